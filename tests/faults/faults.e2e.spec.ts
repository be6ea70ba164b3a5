// Muster's promises under faults, over real processes: three worker clusters, two hub replicas,
// three agents behind proxies, a Postgres and a Redis of the suite's own. Gangs stream in while
// an agent is killed (its API server reachable, then not), an agent is blackholed, Postgres
// restarts, Redis is emptied, the scheduling leader is killed mid-placement, and the hubs run
// with clocks 30 s off; a sampler reads the worker API servers throughout. No gang may run
// half, in two clusters or with two live tokens, no node may be over-committed, no
// acknowledged job may be lost, and every gang must end (or say truly why it waits).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { testLogDir } from '../support/hub-process';
import { zeroCounts } from './figures';
import { FaultFleet, WORKERS } from './fleet';
import { runFaultScenario, unknownToHub, type ScenarioReport } from './scenario';
import { seedRealDuplicate, seedViolations } from './seeded';

jest.setTimeout(20 * 60_000);

const logs = testLogDir('faults');
let fleet: FaultFleet | undefined;
let seeded: string[] = [];

beforeAll(async () => {
  fleet = await FaultFleet.start({ topology: join(__dirname, 'topology.yaml'), logDir: logs });
  // Before any agent runs, so nothing removes the seeded pods before the sampler reads them.
  seeded = await seedViolations(fleet);
  for (const w of WORKERS) fleet.startAgent(w);
  await fleet.allConnected();
});

afterAll(async () => {
  const ends = await fleet?.stop();
  // Every hub replica serving the suite at its end shut down cleanly.
  if (ends) expect(ends).toEqual(ends.map(() => 0));
});

it('counts each invariant on violations seeded in the real worker clusters', async () => {
  expect(seeded).toEqual([
    'gang-in-two-clusters',
    'node-over-committed',
    'partial-gang-ungated',
    'two-live-tokens',
  ]);
  // And the lost-job check finds a job the hub never acknowledged.
  const phantom = randomUUID();
  expect(await unknownToHub(fleet!, [phantom])).toEqual([phantom]);
});

it('counts a real duplicate made through the hub and the agents', async () => {
  const { kinds, moved } = await seedRealDuplicate(fleet!);
  console.log(`seeded real duplicate: the gang was moved ${moved}; counted ${kinds.join(', ')}`);
  expect(kinds).toEqual(expect.arrayContaining(['gang-in-two-clusters', 'two-live-tokens']));
});

it('keeps every invariant through seven faults, and every gang ends', async () => {
  const report: ScenarioReport = await runFaultScenario(fleet!, {
    gangs: 200,
    perSecond: 1,
    longPerFault: 6,
    longRun: '45s',
    sampleIntervalMs: 400,
    recoveryWaitMs: 30_000,
    drainMs: 120_000,
    seed: 20261202,
    log: (line) => process.stderr.write(`[faults] ${line}\n`),
  });
  console.log(`fault suite (logs in ${logs})\n${report.table}`);
  expect({
    counts: report.counts,
    gangsSubmitted: report.gangs.submitted >= 200,
    unansweredSubmits: report.gangs.unanswered,
    unexpectedExits: report.unexpectedExits,
    lost: report.gangs.lost,
    stuck: report.gangs.stuck,
    untrueExplanations: report.gangs.untrueExplanations,
    // Where the sampler could not look, nothing was proved.
    readErrorsOutsideStops: report.sampler.readErrorsOutsideStops,
    unreadWindows: report.sampler.unreadWindows,
  }).toEqual({
    counts: zeroCounts(),
    gangsSubmitted: true,
    unansweredSubmits: 0,
    unexpectedExits: [],
    lost: [],
    stuck: [],
    untrueExplanations: [],
    readErrorsOutsideStops: [],
    unreadWindows: [],
  });
});
