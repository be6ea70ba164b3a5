// Starts, tracks and stops a testbed: N single-process Kubernetes clusters (testbed-cluster) with fake
// kwok nodes, each in its own data directory under a per-run temp dir.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { ensureBinary, PACKAGE_ROOT } from './binary';
import { kubeJSON, kubeRequest, KubeEndpoint } from './kube';
import { buildDeviceClasses, buildResourceSlices, RESOURCE_API } from './resource-slices';
import {
  buildNodes,
  ClusterRole,
  ClusterSpec,
  effectiveGates,
  loadTopology,
  normalizeTopology,
  TopologySpec,
} from './topology';

/** The example topology shipped with the package (1 management + 3 worker clusters). */
export const DEMO_TOPOLOGY = path.join(PACKAGE_ROOT, 'examples', 'demo.yaml');

export interface TestbedCluster {
  name: string;
  role: ClusterRole;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Path of a kubeconfig for this cluster (token user, CA embedded). */
  kubeconfigPath: string;
  /** The same kubeconfig as a YAML string (for KubeConfig.loadFromString). */
  kubeconfig: string;
  /** Bearer token of the admin user (group system:masters). */
  token: string;
  /** PEM of the cluster CA. */
  ca: string;
  /** Process id (and process group id) of the cluster process. */
  pid: number;
  dataDir: string;
  logFile: string;
  /** Names of the fake nodes seeded into this cluster. */
  nodes: string[];
  /** Names of the DeviceClasses published for its simulated DRA devices (one per driver). */
  deviceClasses: string[];
  /** Names of the ResourceSlices published for its simulated DRA devices. */
  resourceSlices: string[];
}

export interface ClusterState {
  name: string;
  role: ClusterRole;
  pid: number;
  server: string;
  dataDir: string;
  kubeconfigPath: string;
  logFile: string;
  nodes: string[];
  /** Absent in state files written before DRA devices existed. */
  deviceClasses?: string[];
  resourceSlices?: string[];
}

export interface TestbedState {
  version: 1;
  runDir: string;
  /** Process that started the run; a non-detached run whose owner died is stale. */
  ownerPid: number;
  detached: boolean;
  createdAt: string;
  kubeconfigPath: string;
  clusters: ClusterState[];
}

export interface StartOptions {
  /** Parent of the per-run directories; default $MUSTER_TESTBED_DIR or <tmp>/muster-testbed. */
  baseDir?: string;
  /** Clusters outlive this process (CLI `up`); otherwise they exit when this process dies. */
  detached?: boolean;
  /** How long to wait for all clusters to be ready; default 180 s. */
  readyTimeoutMs?: number;
  /** Prebuilt testbed-cluster binary; default: ensureBinary(). */
  binary?: string;
  /** klog verbosity of the cluster processes; default 0. */
  verbosity?: number;
  /** Progress messages; default stderr. Pass () => undefined to silence. */
  log?: (msg: string) => void;
}

export function defaultBaseDir(): string {
  return process.env.MUSTER_TESTBED_DIR ?? path.join(os.tmpdir(), 'muster-testbed');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when pid is alive and really is our cluster process (guards against pid reuse). */
function isClusterProcess(pid: number, dataDir: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir);
  } catch {
    return process.platform !== 'linux';
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

function tail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Stops every cluster process of a run (SIGTERM to the process group, SIGKILL after 5 s) and removes its directory. */
export async function stopState(
  state: TestbedState,
  opts: { keepDir?: boolean } = {},
): Promise<void> {
  const live = state.clusters.filter((c) => isClusterProcess(c.pid, c.dataDir));
  for (const c of live) killGroup(c.pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && live.some((c) => pidAlive(c.pid))) await sleep(100);
  for (const c of live) if (pidAlive(c.pid)) killGroup(c.pid, 'SIGKILL');
  while (live.some((c) => pidAlive(c.pid)) && Date.now() < deadline + 5000) await sleep(50);
  if (!opts.keepDir) fs.rmSync(state.runDir, { recursive: true, force: true });
}

export function readState(file: string): TestbedState {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TestbedState;
}

function writeJSONAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2));
  fs.renameSync(tmp, file);
}

/**
 * Removes what crashed runs left behind in baseDir: runs whose owner process died (unless detached),
 * detached runs whose owner exited and whose clusters are all gone, and run dirs without a state
 * file older than 10 minutes. Runs of live processes (other test runs on this machine) are never touched.
 */
export async function cleanupStaleRuns(baseDir = defaultBaseDir()): Promise<string[]> {
  if (!fs.existsSync(baseDir)) return [];
  const removed: string[] = [];
  for (const entry of fs.readdirSync(baseDir)) {
    if (!entry.startsWith('run-')) continue;
    const runDir = path.join(baseDir, entry);
    const stateFile = path.join(runDir, 'state.json');
    try {
      if (!fs.existsSync(stateFile)) {
        if (Date.now() - fs.statSync(runDir).mtimeMs > 600_000) {
          fs.rmSync(runDir, { recursive: true, force: true });
          removed.push(runDir);
        }
        continue;
      }
      const state = readState(stateFile);
      // A run is stale once its owner is gone: for a test run that is the end of it (its clusters
      // exit with it); a detached (CLI) run outlives its owner and is stale only when no cluster runs.
      const ownerGone = !pidAlive(state.ownerPid);
      const allGone = state.clusters.every((c) => !isClusterProcess(c.pid, c.dataDir));
      if (ownerGone && (!state.detached || allGone)) {
        await stopState(state);
        removed.push(runDir);
      }
    } catch {
      /* another process is cleaning the same dir, or it is half-written: leave it */
    }
  }
  return removed;
}

export class Testbed {
  private stopped = false;
  private readonly exitHandler = () => {
    // Last resort when the owner exits without calling stop(): kill synchronously.
    if (!this.state.detached) for (const c of this.state.clusters) killGroup(c.pid, 'SIGKILL');
  };

  constructor(
    readonly clusters: TestbedCluster[],
    readonly state: TestbedState,
  ) {
    if (!state.detached) process.once('exit', this.exitHandler);
  }

  get runDir(): string {
    return this.state.runDir;
  }

  /** A kubeconfig with one context per cluster (context name = cluster name). */
  get kubeconfigPath(): string {
    return this.state.kubeconfigPath;
  }

  cluster(name: string): TestbedCluster {
    const c = this.clusters.find((x) => x.name === name);
    if (!c)
      throw new Error(
        `testbed: no cluster ${name} (have ${this.clusters.map((x) => x.name).join(', ')})`,
      );
    return c;
  }

  get management(): TestbedCluster | undefined {
    return this.clusters.find((c) => c.role === 'management');
  }

  get workers(): TestbedCluster[] {
    return this.clusters.filter((c) => c.role === 'worker');
  }

  /** Kills all cluster processes and removes the run directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener('exit', this.exitHandler);
    await stopState(this.state);
  }
}

function endpointOf(c: { server: string; token: string; ca: string }): KubeEndpoint {
  return { server: c.server, token: c.token, ca: c.ca };
}

interface ReadyInfo {
  name: string;
  server: string;
  port: number;
  pid: number;
  token: string;
  caFile: string;
  kubeconfig: string;
}

interface NodeList {
  items: {
    metadata: { name: string };
    spec?: { taints?: { key: string }[] };
    status?: { conditions?: { type: string; status: string }[] };
  }[];
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/**
 * Seeds the fake nodes, publishes the DeviceClasses and ResourceSlices of their simulated DRA
 * devices, and waits until nodes are Ready and untainted, the slices exist and the default
 * service account exists.
 */
async function seedAndWait(
  c: TestbedCluster,
  spec: ClusterSpec,
  index: number,
  deadline: number,
): Promise<void> {
  const ep = endpointOf(c);
  const nodes = buildNodes(spec, index);
  const created = await mapLimit(nodes, 8, async (n) => {
    const res = await kubeJSON<{ metadata?: { uid?: string } }>(
      ep,
      'POST',
      '/api/v1/nodes',
      n,
      [409],
    );
    const uid =
      res.metadata?.uid ??
      (await kubeJSON<{ metadata: { uid: string } }>(ep, 'GET', `/api/v1/nodes/${n.metadata.name}`))
        .metadata.uid;
    return [n.metadata.name, uid] as const;
  });
  await publishDevices(ep, spec, new Map(created));
  let why = 'not checked yet';
  while (Date.now() < deadline) {
    try {
      why = await notReadyReason(ep, c.nodes, c.resourceSlices);
      if (!why) return;
    } catch (e) {
      why = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(
    `testbed: cluster ${c.name} not ready in time: ${why}\n--- ${c.logFile}:\n${tail(c.logFile)}`,
  );
}

/** Creates the DeviceClasses and ResourceSlices of a cluster's simulated DRA devices (existing ones are kept). */
async function publishDevices(
  ep: KubeEndpoint,
  spec: ClusterSpec,
  nodeUIDs: Map<string, string>,
): Promise<void> {
  for (const dc of buildDeviceClasses(spec)) {
    await kubeJSON(ep, 'POST', `${RESOURCE_API}/deviceclasses`, dc, [409]);
  }
  await mapLimit(buildResourceSlices(spec, nodeUIDs), 8, (rs) =>
    kubeJSON(ep, 'POST', `${RESOURCE_API}/resourceslices`, rs, [409]),
  );
}

/** '' when the cluster is ready, otherwise why not. */
export async function notReadyReason(
  ep: KubeEndpoint,
  expectedNodes: string[],
  expectedSlices: string[] = [],
): Promise<string> {
  const rz = await kubeRequest(ep, 'GET', '/readyz', undefined, 5000);
  if (rz.status !== 200) return `/readyz -> ${rz.status}`;
  const sa = await kubeRequest(
    ep,
    'GET',
    '/api/v1/namespaces/default/serviceaccounts/default',
    undefined,
    5000,
  );
  if (sa.status !== 200) return 'default service account missing';
  const list = await kubeJSON<NodeList>(ep, 'GET', '/api/v1/nodes');
  const byName = new Map(list.items.map((n) => [n.metadata.name, n]));
  for (const name of expectedNodes) {
    const n = byName.get(name);
    if (!n) return `node ${name} missing`;
    const ready = n.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
    if (!ready) return `node ${name} not Ready`;
    const taint = n.spec?.taints?.find((t) => t.key.startsWith('node.kubernetes.io/'));
    if (taint) return `node ${name} still has taint ${taint.key}`;
  }
  if (expectedSlices.length > 0) {
    const slices = await kubeJSON<{ items: { metadata: { name: string } }[] }>(
      ep,
      'GET',
      `${RESOURCE_API}/resourceslices`,
    );
    const have = new Set(slices.items.map((s) => s.metadata.name));
    const missing = expectedSlices.filter((n) => !have.has(n));
    if (missing.length > 0)
      return `ResourceSlice ${missing[0]} missing (${missing.length} of ${expectedSlices.length})`;
  }
  return '';
}

function mergedKubeconfig(clusters: TestbedCluster[]): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: clusters.map((c) => ({
      name: c.name,
      cluster: {
        server: c.server,
        'certificate-authority-data': Buffer.from(c.ca).toString('base64'),
      },
    })),
    users: clusters.map((c) => ({ name: `${c.name}-admin`, user: { token: c.token } })),
    contexts: clusters.map((c) => ({
      name: c.name,
      context: { cluster: c.name, user: `${c.name}-admin`, namespace: 'default' },
    })),
    'current-context': clusters[0]?.name ?? '',
  });
}

/** Spawns one cluster process and waits for its cluster.json (written once every component runs). */
async function spawnCluster(
  bin: string,
  spec: ClusterSpec,
  runDir: string,
  opts: StartOptions,
  onSpawn: (pid: number, dataDir: string, logFile: string) => void,
  deadline: number,
): Promise<TestbedCluster> {
  const dataDir = path.join(runDir, spec.name);
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.join(dataDir, 'cluster.log');
  const out = fs.openSync(logFile, 'a');
  const args = ['--name', spec.name, '--data-dir', dataDir, '--v', String(opts.verbosity ?? 0)];
  if (!opts.detached) args.push('--exit-with-parent');
  // One process runs every component, so the apiserver's --feature-gates set the process-wide
  // gates the scheduler and controller manager read too.
  const effective = effectiveGates(spec);
  const gates = Object.entries(effective.featureGates);
  if (gates.length > 0) args.push('--feature-gates', gates.map(([k, v]) => `${k}=${v}`).join(','));
  const runtime = Object.entries(effective.runtimeConfig);
  if (runtime.length > 0) {
    args.push(
      '--apiserver-args',
      `--runtime-config=${runtime.map(([k, v]) => `${k}=${v}`).join(',')}`,
    );
  }
  // detached: own process group, so stop() can kill the group and the child survives a CLI exit.
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code, sig) => (exited = `exited with ${sig ?? code}`));
  child.on('error', (e) => (exited = e.message));
  if (child.pid === undefined) {
    await sleep(50);
    throw new Error(`testbed: could not start ${bin}: ${exited ?? 'no pid'}`);
  }
  onSpawn(child.pid, dataDir, logFile);
  const readyFile = path.join(dataDir, 'cluster.json');
  while (!fs.existsSync(readyFile)) {
    if (exited)
      throw new Error(`testbed: cluster ${spec.name} ${exited}\n--- ${logFile}:\n${tail(logFile)}`);
    if (Date.now() > deadline)
      throw new Error(`testbed: cluster ${spec.name} did not start in time\n${tail(logFile)}`);
    await sleep(100);
  }
  const info = JSON.parse(fs.readFileSync(readyFile, 'utf8')) as ReadyInfo;
  return {
    name: spec.name,
    role: spec.role,
    server: info.server,
    kubeconfigPath: info.kubeconfig,
    kubeconfig: fs.readFileSync(info.kubeconfig, 'utf8'),
    token: info.token,
    ca: fs.readFileSync(info.caFile, 'utf8'),
    pid: child.pid,
    dataDir,
    logFile,
    nodes: buildNodes(spec).map((n) => n.metadata.name),
    deviceClasses: buildDeviceClasses(spec).map((d) => d.metadata.name),
    resourceSlices: buildResourceSlices(spec).map((s) => s.metadata.name),
  };
}

/**
 * Starts a testbed from a topology (object or YAML file path; default examples/demo.yaml) and resolves
 * when every cluster is ready: apiserver /readyz, all fake nodes Ready, default service account present.
 */
export async function startTestbed(
  topology: TopologySpec | string = DEMO_TOPOLOGY,
  opts: StartOptions = {},
): Promise<Testbed> {
  const spec = typeof topology === 'string' ? loadTopology(topology) : normalizeTopology(topology);
  const log = opts.log ?? ((m: string) => process.stderr.write(`[testbed] ${m}\n`));
  const bin = opts.binary ?? (await ensureBinary({ log }));
  const baseDir = opts.baseDir ?? defaultBaseDir();
  fs.mkdirSync(baseDir, { recursive: true });
  await cleanupStaleRuns(baseDir);
  const runDir = fs.mkdtempSync(path.join(baseDir, 'run-'));
  const state: TestbedState = {
    version: 1,
    runDir,
    ownerPid: process.pid,
    detached: !!opts.detached,
    createdAt: new Date().toISOString(),
    kubeconfigPath: path.join(runDir, 'kubeconfig'),
    clusters: [],
  };
  const stateFile = path.join(runDir, 'state.json');
  writeJSONAtomic(stateFile, state);
  const started = Date.now();
  const deadline = started + (opts.readyTimeoutMs ?? 180_000);
  try {
    const clusters = await Promise.all(
      spec.clusters.map((cs) =>
        spawnCluster(
          bin,
          cs,
          runDir,
          opts,
          (pid, dataDir, logFile) => {
            state.clusters.push({
              name: cs.name,
              role: cs.role,
              pid,
              server: '',
              dataDir,
              kubeconfigPath: path.join(dataDir, 'kubeconfig'),
              logFile,
              nodes: [],
            });
            writeJSONAtomic(stateFile, state);
          },
          deadline,
        ),
      ),
    );
    for (const c of clusters) {
      const s = state.clusters.find((x) => x.name === c.name);
      if (s)
        Object.assign(s, {
          server: c.server,
          nodes: c.nodes,
          deviceClasses: c.deviceClasses,
          resourceSlices: c.resourceSlices,
        });
    }
    writeJSONAtomic(stateFile, state);
    await Promise.all(clusters.map((c, i) => seedAndWait(c, spec.clusters[i], i, deadline)));
    fs.writeFileSync(state.kubeconfigPath, mergedKubeconfig(clusters), { mode: 0o600 });
    const nodeCount = clusters.reduce((a, c) => a + c.nodes.length, 0);
    const sliceCount = clusters.reduce((a, c) => a + c.resourceSlices.length, 0);
    log(
      `${clusters.length} clusters (${nodeCount} nodes, ${sliceCount} ResourceSlices) ready in ${((Date.now() - started) / 1000).toFixed(1)}s under ${runDir}`,
    );
    return new Testbed(clusters, state);
  } catch (e) {
    await stopState(state);
    throw e;
  }
}

/** Per-cluster liveness for `testbed status`. */
export async function statusOf(state: TestbedState): Promise<
  {
    name: string;
    role: ClusterRole;
    pid: number;
    alive: boolean;
    server: string;
    ready: string;
    nodes: number;
  }[]
> {
  return Promise.all(
    state.clusters.map(async (c) => {
      const alive = isClusterProcess(c.pid, c.dataDir);
      let ready = 'down';
      if (alive) {
        try {
          const info = JSON.parse(
            fs.readFileSync(path.join(c.dataDir, 'cluster.json'), 'utf8'),
          ) as ReadyInfo;
          const why = await notReadyReason(
            { server: info.server, token: info.token, ca: fs.readFileSync(info.caFile, 'utf8') },
            c.nodes,
            c.resourceSlices,
          );
          ready = why || 'ready';
        } catch (e) {
          ready = `error: ${(e as Error).message}`;
        }
      }
      return {
        name: c.name,
        role: c.role,
        pid: c.pid,
        alive,
        server: c.server,
        ready,
        nodes: c.nodes.length,
      };
    }),
  );
}
