// Everything the fault run kills, stops and partitions, as real processes: three worker
// clusters (testbed), a Postgres and a Redis of the run's own, two hub replicas behind one
// front address, and one agent per worker dialling it through a proxy of its own.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { AgentState, type HubClients } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { writeClusterAccess, type ClusterAccess } from '../support/cluster-access';
import { registerWorker } from '../support/clusters';
import { eventually } from '../support/fake-agent';
import { freePort, HubProcess } from '../support/hub-process';
import {
  startPrivatePostgres,
  startPrivateRedis,
  type PrivatePostgres,
  type PrivateRedis,
} from '../support/private-services';
import { TcpProxy } from '../support/tcp-proxy';
import { HubFront } from './hub-front';

export const WORKERS = ['w1', 'w2', 'w3'] as const;
export const QUEUE = 'faults';

/** The timeouts the run is configured with (see apps/hub/src/config/hub-config.ts). */
export interface FleetTimeouts {
  /** MUSTER_WORKER_LOST_TIMEOUT_MS. */
  lostMs: number;
  /** MUSTER_SELF_FENCE_TIMEOUT_MS (below lostMs). */
  selfFenceMs: number;
  /** MUSTER_HEARTBEAT_INTERVAL_MS. */
  heartbeatMs: number;
  /** MUSTER_FENCE_DELETE_GRACE_S: selfFenceMs + this + 2 heartbeats must stay below lostMs. */
  fenceDeleteGraceS: number;
  /** The agents' MUSTER_BIND_TIMEOUT_MS. */
  bindMs: number;
}

export const DEFAULT_TIMEOUTS: FleetTimeouts = {
  lostMs: 8000,
  selfFenceMs: 4000,
  heartbeatMs: 500,
  fenceDeleteGraceS: 1,
  bindMs: 30_000,
};

/** A clock offset libfaketime understands, e.g. "+30s". */
export type ClockOffset = `${'+' | '-'}${number}s`;

const FAKETIME_LIBS: Record<string, string> = {
  x64: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  arm64: '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
};

/** The libfaketime preload, or an error saying how to get it (the suite never skips the fault). */
export function faketimeLibrary(): string {
  const lib = FAKETIME_LIBS[process.arch];
  if (!lib || !existsSync(lib))
    throw new Error(
      `libfaketime is not installed (${lib ?? `no known path on ${process.arch}`}): ` +
        'tools/ensure-services.sh installs it (apt-get install -y libfaketime)',
    );
  return lib;
}

/**
 * Runs the provider file's exec plugin for `cluster` as a consumer (the hub) would, and checks
 * it hands out the cluster's token: a broken provider would let the hub's fencing fail quietly
 * and the run would measure a hub that cannot reach any API server.
 */
function checkAccess(providerFile: string, cluster: TestbedCluster): void {
  const file = JSON.parse(readFileSync(providerFile, 'utf8')) as {
    providers: { execConfig: { command: string; args?: string[] } }[];
  };
  const exec = file.providers[0]!.execConfig;
  const r = spawnSync(exec.command, exec.args ?? [], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: process.env.PATH ?? '',
      KUBERNETES_EXEC_INFO: JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        spec: { interactive: false, cluster: { server: cluster.server } },
      }),
    },
  });
  let token: string | undefined;
  try {
    token = (JSON.parse(r.stdout) as { status?: { token?: string } }).status?.token;
  } catch {
    token = undefined;
  }
  if (r.status !== 0 || token !== cluster.token)
    throw new Error(
      `the access provider of ${cluster.name} gives no token (exit ${r.status}): ${r.stderr.slice(0, 500)}`,
    );
}

interface Replica {
  port: number;
  hub: HubProcess | undefined;
  api: HubClients | undefined;
  /** The run itself is ending this process (kill or stop): its exit is no finding. */
  ending: boolean;
}

export class FaultFleet {
  readonly replicas: Replica[] = [];
  readonly proxies = new Map<string, TcpProxy>();
  readonly agents = new Map<string, AgentProcess>();
  /** Worker API servers currently SIGSTOPped. */
  readonly stopped = new Set<string>();
  /** Processes that ended on their own, or did not stop cleanly when asked: how, and when. */
  readonly unexpectedExits: string[] = [];
  private front!: HubFront;
  private access!: ClusterAccess;
  private turn = 0;

  private constructor(
    readonly testbed: Testbed,
    readonly pg: PrivatePostgres,
    readonly redis: PrivateRedis,
    readonly timeouts: FleetTimeouts,
    readonly logDir: string,
  ) {}

  /** Starts the clusters, the services and the hubs; each agent comes with startAgent(). */
  static async start(opts: {
    topology: string;
    logDir: string;
    timeouts?: FleetTimeouts;
  }): Promise<FaultFleet> {
    faketimeLibrary(); // fail before minutes of set-up, not at the seventh fault
    const started = await Promise.allSettled([
      startTestbed(opts.topology, { log: () => undefined }),
      startPrivatePostgres(),
      startPrivateRedis(),
    ] as const);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      // What did start must not outlive the failure.
      for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
    const [testbed, pg, redis] = started.map(
      (s) => (s as PromiseFulfilledResult<unknown>).value,
    ) as [Testbed, PrivatePostgres, PrivateRedis];
    const fleet = new FaultFleet(
      testbed,
      pg,
      redis,
      opts.timeouts ?? DEFAULT_TIMEOUTS,
      opts.logDir,
    );
    try {
      fleet.access = writeClusterAccess(WORKERS.map((w) => testbed.cluster(w)));
      for (const w of WORKERS) checkAccess(fleet.access.providerFile, testbed.cluster(w));
      for (let i = 0; i < 2; i++)
        fleet.replicas.push({
          port: await freePort(),
          hub: undefined,
          api: undefined,
          ending: false,
        });
      fleet.front = new HubFront(() =>
        fleet.replicas.filter((r) => r.hub?.running).map((r) => r.port),
      );
      await fleet.front.open();
      // One at a time: both would run the migrations, which take an advisory lock anyway.
      for (let i = 0; i < fleet.replicas.length; i++) await fleet.startHub(i);
      const api = fleet.api();
      await api.inventory.createQueue({
        queue: { name: QUEUE, description: '', weight: 1, allowedNamespaces: [] },
      });
      for (const name of WORKERS) {
        await registerWorker(api, name, {
          clusterSet: 'faults',
          accessProviders: fleet.access.accessProvidersFor(name),
        });
        const proxy = new TcpProxy({ host: '127.0.0.1', port: fleet.front.port });
        await proxy.open();
        fleet.proxies.set(name, proxy);
      }
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  cluster(name: string): TestbedCluster {
    return this.testbed.cluster(name);
  }

  private hubEnv(clock: ClockOffset | undefined): Record<string, string> {
    const t = this.timeouts;
    return {
      MUSTER_REDIS_URL: this.redis.url,
      MUSTER_WORKER_LOST_TIMEOUT_MS: String(t.lostMs),
      MUSTER_SELF_FENCE_TIMEOUT_MS: String(t.selfFenceMs),
      MUSTER_HEARTBEAT_INTERVAL_MS: String(t.heartbeatMs),
      MUSTER_FENCE_DELETE_GRACE_S: String(t.fenceDeleteGraceS),
      MUSTER_CYCLE_PERIOD_MS: '500',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '2',
      MUSTER_RECONCILE_INTERVAL_MS: '2000',
      MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: this.access.providerFile,
      MUSTER_LOG_LEVEL: 'info',
      // The hub process's wall clock only: performance.now() and timers keep the real one.
      ...(clock
        ? {
            LD_PRELOAD: faketimeLibrary(),
            FAKETIME: clock,
            FAKETIME_DONT_FAKE_MONOTONIC: '1',
          }
        : {}),
    };
  }

  /** Starts replica `i` on its own port (agents reach it through the front again). */
  async startHub(i: number, clock?: ClockOffset): Promise<HubProcess> {
    const r = this.replicas[i]!;
    const hub = await HubProcess.start({
      databaseUrl: this.pg.url,
      redisPrefix: 'muster',
      grpcPort: r.port,
      logFile: join(this.logDir, `hub-${i}.log`),
      env: this.hubEnv(clock),
    });
    if (clock) {
      // The offset must be real, or the fault was not injected: the hub logs its own wall clock.
      const started = hub.logs
        .map((l) => {
          try {
            return JSON.parse(l) as { msg?: string; time?: string };
          } catch {
            return {};
          }
        })
        .find((l) => l.msg === 'hub started');
      const offsetS = (Date.parse(started?.time ?? '') - Date.now()) / 1000;
      const want = Number(clock.slice(0, -1));
      if (!(Math.abs(offsetS - want) < 5)) {
        await hub.kill();
        throw new Error(`hub ${i} started with FAKETIME=${clock} logs a clock off by ${offsetS} s`);
      }
    }
    r.hub = hub;
    r.ending = false;
    r.api = hub.connect({ timeoutMs: 10_000 });
    void hub.whenExited().then((how) => {
      if (r.hub === hub && !r.ending)
        this.unexpectedExits.push(
          `hub ${i} ended on its own (${how}) at ${new Date().toISOString()}`,
        );
    });
    return hub;
  }

  /** SIGKILL of replica `i`. */
  async killHub(i: number): Promise<void> {
    const r = this.replicas[i]!;
    r.ending = true;
    r.api?.close();
    r.api = undefined;
    await r.hub?.kill();
  }

  /** SIGTERM of replica `i`; resolves to how it ended (0: cleanly). */
  async stopHub(i: number): Promise<0 | string> {
    const r = this.replicas[i]!;
    r.ending = true;
    r.api?.close();
    r.api = undefined;
    const end = (await r.hub?.stop()) ?? 0;
    if (end !== 0) this.unexpectedExits.push(`hub ${i} did not stop cleanly: ${end}`);
    return end;
  }

  /** Clients of a running replica, taking turns (each call may give another one). */
  api(): HubClients {
    const live = this.replicas.filter((r) => r.api && r.hub?.running);
    if (live.length === 0) throw new Error('no hub replica is running');
    return live[this.turn++ % live.length]!.api!;
  }

  /**
   * Runs `call` against a running replica, trying again (another replica, after a pause) while
   * the hub is unavailable, until `timeoutMs`; errors that a retry cannot change are thrown.
   */
  async withHub<T>(call: (api: HubClients) => Promise<T>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await call(this.api());
      } catch (err) {
        const code = (err as Partial<ServiceError>).code;
        const final = [
          status.INVALID_ARGUMENT,
          status.NOT_FOUND,
          status.ALREADY_EXISTS,
          status.PERMISSION_DENIED,
          status.FAILED_PRECONDITION,
        ];
        if ((code !== undefined && final.includes(code)) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** The replica holding the scheduling lead, from Postgres (undefined: none right now). */
  async leader(): Promise<number | undefined> {
    const rows = await this.pg.query<{ holder: string }>(
      'SELECT holder FROM scheduler_leader WHERE id = 1',
    );
    const pid = Number(rows[0]?.holder.split(':').pop());
    const i = this.replicas.findIndex((r) => r.hub?.running && r.hub.pid === pid);
    return i >= 0 ? i : undefined;
  }

  startAgent(name: string): AgentProcess {
    const agent = AgentProcess.start({
      cluster: name,
      hub: `127.0.0.1:${this.proxies.get(name)!.port}`,
      kubeconfig: this.cluster(name).kubeconfigPath,
      logFile: join(this.logDir, `agent-${name}.log`),
      env: {
        MUSTER_SELF_FENCE_TIMEOUT_MS: String(this.timeouts.selfFenceMs),
        MUSTER_BIND_TIMEOUT_MS: String(this.timeouts.bindMs),
        MUSTER_LOG_LEVEL: 'info',
      },
    });
    this.agents.set(name, agent);
    void agent.exited.then((code) => {
      if (this.agents.get(name) === agent && !this.endingAgents.has(agent))
        this.unexpectedExits.push(
          `agent ${name} ended on its own (exit ${code}) at ${new Date().toISOString()}: ${agent.tail(5)}`,
        );
    });
    return agent;
  }

  private readonly endingAgents = new WeakSet<AgentProcess>();

  async killAgent(name: string): Promise<void> {
    const agent = this.agents.get(name);
    if (!agent) return;
    this.endingAgents.add(agent);
    await agent.kill();
  }

  /** SIGSTOP of the worker's whole cluster process group: its API server stops answering. */
  stopApiServer(name: string): void {
    process.kill(-this.cluster(name).pid, 'SIGSTOP');
    this.stopped.add(name);
  }

  contApiServer(name: string): void {
    process.kill(-this.cluster(name).pid, 'SIGCONT');
    this.stopped.delete(name);
  }

  /** Agent states by cluster, as the hub reports them. */
  async agentStates(): Promise<Map<string, AgentState>> {
    const { clusters } = await this.withHub((api) => api.inventory.listClusters({}));
    return new Map(clusters.map((c) => [c.name, c.agentState]));
  }

  /** Waits until every worker's agent is connected with its capacity reported. */
  async allConnected(timeoutMs = 90_000): Promise<void> {
    await eventually(
      'every agent connected with capacity',
      async () => {
        const { clusters } = await this.withHub((api) => api.inventory.listClusters({}));
        return (
          (clusters.length === WORKERS.length &&
            clusters.every(
              (c) =>
                c.agentState === AgentState.AGENT_STATE_CONNECTED &&
                (c.capacity?.nodeCount ?? 0) > 0,
            )) ||
          undefined
        );
      },
      timeoutMs,
    );
  }

  /** Stops everything, undoing any fault still in place first; returns how each hub ended. */
  async stop(): Promise<(0 | string)[]> {
    for (const name of [...this.stopped]) this.contApiServer(name);
    for (const p of this.proxies.values()) p.heal();
    for (const a of this.agents.values()) this.endingAgents.add(a);
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await Promise.all([...this.proxies.values()].map((p) => p.cut()));
    const ends = await Promise.all(
      this.replicas.map((r, i) => (r.hub?.running ? this.stopHub(i) : Promise.resolve(0 as const))),
    );
    await this.front?.close();
    await this.testbed.stop();
    await this.redis.stop();
    await this.pg.stop();
    this.access?.cleanup();
    return ends;
  }
}
