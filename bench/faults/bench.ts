// Fault benchmark (not a test): the fault suite's scenario with more gangs, and its figures.
// It fails — exit code 1 and one line saying why — when a process the run did not kill exits,
// the sampler leaves a cluster unread through a fault, gangs are left stuck, or any invariant
// count is not 0 (the table is printed first).
//   BENCH_GANGS=N (or --gangs N), BENCH_RATE=R, BENCH_SEED=S
import { join } from 'node:path';
import { FaultFleet, WORKERS } from '../../tests/faults/fleet';
import { INVARIANTS } from '../../tests/faults/figures';
import { runFaultScenario } from '../../tests/faults/scenario';
import { seedViolations } from '../../tests/faults/seeded';
import { REPO_ROOT, testLogDir } from '../../tests/support/hub-process';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function positive(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`bench failed: ${name} must be a positive number\n`);
    process.exit(2);
  }
  return n;
}

const GANGS = Math.round(
  positive('BENCH_GANGS / --gangs', flag('gangs') ?? process.env.BENCH_GANGS, 600),
);
const RATE = positive('BENCH_RATE', process.env.BENCH_RATE, 2);
const SEED = Math.round(positive('BENCH_SEED', process.env.BENCH_SEED, 20261202));

async function main(): Promise<void> {
  const logs = testLogDir('bench-faults');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`bench: ${GANGS} gangs, ${RATE} a second, seed ${SEED}; logs in ${logs}`);
  const fleet = await FaultFleet.start({
    topology: join(REPO_ROOT, 'tests/faults/topology.yaml'),
    logDir: logs,
  });
  let failure: string | undefined;
  try {
    const seeded = await seedViolations(fleet);
    const want = [
      'gang-in-two-clusters',
      'node-over-committed',
      'partial-gang-ungated',
      'two-live-tokens',
    ];
    process.stdout.write(`seeded violations counted: ${seeded.join(', ')}\n`);
    if (want.some((k) => !seeded.includes(k as (typeof seeded)[number])))
      failure = `the sampler missed seeded violations (counted ${seeded.join(', ') || 'none'})`;
    for (const w of WORKERS) fleet.startAgent(w);
    await fleet.allConnected();
    const report = await runFaultScenario(fleet, {
      gangs: GANGS,
      perSecond: RATE,
      longPerFault: 8,
      longRun: '45s',
      sampleIntervalMs: 400,
      recoveryWaitMs: 45_000,
      drainMs: 10 * 60_000,
      seed: SEED,
      log,
    });
    process.stdout.write(`\n${report.table}\n`);
    const nonZero = INVARIANTS.filter((k) => report.counts[k] !== 0);
    if (!failure && report.sampler.unreadWindows.length > 0)
      failure = `clusters unread through a fault: ${report.sampler.unreadWindows.join(', ')}`;
    if (!failure && report.gangs.stuck.length > 0)
      failure = `${report.gangs.stuck.length} gangs neither finished nor queued after the drain`;
    if (!failure && nonZero.length > 0)
      failure = `invariants violated: ${nonZero.map((k) => `${k} ${report.counts[k]}`).join(', ')}`;
  } finally {
    const ends = await fleet.stop();
    if (!failure && ends.some((e) => e !== 0))
      failure = `a hub replica did not stop cleanly: ${ends.join(', ')}`;
  }
  if (failure) {
    process.stderr.write(`bench failed: ${failure}\n`);
    process.exit(1);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message.split('\n')[0]}\n${err.stack ?? ''}\n`);
  process.exit(1);
});
