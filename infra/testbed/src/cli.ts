#!/usr/bin/env node
// testbed up|down|status — runs a detached testbed whose clusters outlive this command.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBinary, ensureGoBinary } from './binary';
import { DEMO_TOPOLOGY, readState, startTestbed, statusOf, stopState } from './testbed';

const USAGE = `usage: testbed <command> [options]

commands:
  up      start the clusters of a topology in the background and write the state file
  down    stop the clusters recorded in the state file and remove their data
  status  show whether the recorded clusters are alive and ready
  build   build (or find in the cache) the Go cluster binary and print its path; with
          --module, the program --package of that Go module instead (e.g. infra/interop/kueue)

options:
  -f, --file FILE    topology YAML for "up" (default: ${path.relative(process.cwd(), DEMO_TOPOLOGY)})
  -s, --state FILE   state file (default: $MUSTER_TESTBED_STATE or <tmp>/muster-testbed/state.json)
      --json         print machine-readable JSON
  -v N               klog verbosity of the cluster processes ("up" only)
      --module DIR   Go module to build ("build" only; default the testbed's)
      --package PKG  package of --module to build (default ./cmd/<module dir name>)
`;

function defaultStateFile(): string {
  return process.env.MUSTER_TESTBED_STATE ?? path.join(os.tmpdir(), 'muster-testbed', 'state.json');
}

interface Args {
  cmd: string;
  file: string;
  state: string;
  json: boolean;
  verbosity: number;
  module?: string;
  pkg?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    cmd: '',
    file: DEMO_TOPOLOGY,
    state: defaultStateFile(),
    json: false,
    verbosity: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => {
      const n = argv[++i];
      if (n === undefined) throw new Error(`${v} needs a value`);
      return n;
    };
    if (v === '-f' || v === '--file') a.file = path.resolve(next());
    else if (v === '-s' || v === '--state') a.state = path.resolve(next());
    else if (v === '--json') a.json = true;
    else if (v === '-v') a.verbosity = Number(next());
    else if (v === '--module') a.module = path.resolve(next());
    else if (v === '--package') a.pkg = next();
    else if (v === '-h' || v === '--help') a.cmd = 'help';
    else if (!a.cmd) a.cmd = v;
    else throw new Error(`unexpected argument ${v}`);
  }
  return a;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  switch (args.cmd) {
    case 'up': {
      if (fs.existsSync(args.state)) {
        const old = readState(args.state);
        const st = await statusOf(old);
        if (st.some((c) => c.alive)) {
          process.stderr.write(
            `a testbed is already running (state ${args.state}); run "testbed down" first\n`,
          );
          return 1;
        }
        await stopState(old);
      }
      const tb = await startTestbed(args.file, { detached: true, verbosity: args.verbosity });
      fs.mkdirSync(path.dirname(args.state), { recursive: true });
      fs.writeFileSync(args.state, JSON.stringify(tb.state, null, 2));
      if (args.json) {
        process.stdout.write(
          JSON.stringify(
            {
              state: args.state,
              kubeconfig: tb.kubeconfigPath,
              clusters: tb.clusters.map((c) => ({
                name: c.name,
                role: c.role,
                server: c.server,
                kubeconfig: c.kubeconfigPath,
                token: c.token,
                pid: c.pid,
                nodes: c.nodes.length,
                resourceSlices: c.resourceSlices.length,
              })),
            },
            null,
            2,
          ) + '\n',
        );
      } else {
        for (const c of tb.clusters) {
          process.stdout.write(
            `${c.name.padEnd(14)} ${c.role.padEnd(10)} ${c.server.padEnd(24)} nodes=${String(c.nodes.length).padEnd(3)} slices=${String(c.resourceSlices.length).padEnd(3)} pid=${c.pid}  kubeconfig=${c.kubeconfigPath}\n`,
          );
        }
        process.stdout.write(
          `all contexts: export KUBECONFIG=${tb.kubeconfigPath}\nstate: ${args.state}\n`,
        );
      }
      return 0;
    }
    case 'down': {
      if (!fs.existsSync(args.state)) {
        process.stderr.write(`no testbed state at ${args.state}\n`);
        return 0;
      }
      await stopState(readState(args.state));
      fs.rmSync(args.state, { force: true });
      process.stdout.write('testbed stopped\n');
      return 0;
    }
    case 'status': {
      if (!fs.existsSync(args.state)) {
        process.stdout.write(
          args.json ? '{"running":false}\n' : `no testbed (state ${args.state})\n`,
        );
        return 1;
      }
      const st = await statusOf(readState(args.state));
      if (args.json)
        process.stdout.write(
          JSON.stringify({ running: st.some((c) => c.alive), clusters: st }, null, 2) + '\n',
        );
      else
        for (const c of st)
          process.stdout.write(
            `${c.name.padEnd(14)} ${c.role.padEnd(10)} pid=${String(c.pid).padEnd(8)} ${c.alive ? 'alive' : 'dead '} ${c.server.padEnd(24)} ${c.ready}\n`,
          );
      return st.every((c) => c.alive && c.ready === 'ready') ? 0 : 1;
    }
    case 'build': {
      const bin = args.module
        ? await ensureGoBinary({
            name: path.basename(args.pkg ?? args.module),
            moduleDir: args.module,
            pkg: args.pkg ?? `./cmd/${path.basename(args.module)}`,
          })
        : await ensureBinary();
      process.stdout.write(`${bin}\n`);
      return 0;
    }
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`testbed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
