// Real worker clusters at a test hub: registering one, and waiting until its agent reports.
import { join } from 'node:path';
import { AgentState, type AccessProvider, type HubClients } from '@muster/api';
import { AgentProcess } from './agent-process';
import { eventually } from './fake-agent';

/** Registers a worker; with `accessProviders` the hub can reach its API server (fencing). */
export async function registerWorker(
  api: HubClients,
  name: string,
  opts: { accessProviders?: AccessProvider[]; clusterSet?: string } = {},
): Promise<void> {
  await api.inventory.registerCluster({
    name,
    displayName: '',
    clusterSet: opts.clusterSet ?? '',
    topologyLevels: [],
    accessProviders: opts.accessProviders ?? [],
    labels: {},
  });
}

/**
 * Waits until the hub calls `cluster` Connected with its nodes reported. `context` (an agent's
 * log tail, say) goes into the timeout message.
 */
export async function untilReporting(
  api: HubClients,
  cluster: string,
  timeoutMs = 90_000,
  context = '',
): Promise<void> {
  await eventually(
    `${cluster}'s agent connected with capacity${context ? `\n${context}` : ''}`,
    async () => {
      const c = (await api.inventory.getCluster({ name: cluster })).cluster;
      return c?.agentState === AgentState.AGENT_STATE_CONNECTED && (c.capacity?.nodeCount ?? 0) > 0;
    },
    timeoutMs,
  );
}

/**
 * Stops a test's agents, then its hub, then its testbed (each even when the one before failed),
 * and returns the agents' exit codes.
 */
export async function stopFleet(
  agents: readonly { stop(): Promise<number | null> }[],
  env: { stop(): Promise<void> } | undefined,
  testbed: { stop(): Promise<void> } | undefined,
): Promise<(number | null)[]> {
  const agentEnds = await Promise.all(agents.map((a) => a.stop()));
  try {
    await env?.stop();
  } finally {
    await testbed?.stop();
  }
  return agentEnds;
}

/**
 * Registers each worker (in `clusterSet`, one for all or one per worker), starts one agent per worker against `hub`, its log
 * in `logs/agent-NAME.log` and `env` added to its environment, and pushes it onto `agents` as it
 * starts (so a suite's teardown stops whatever started before a failure). Waits until every
 * worker reports unless `wait` is false.
 */
export async function startWorkers(
  api: HubClients,
  opts: {
    hub: string;
    workers: readonly string[];
    kubeconfigOf: (worker: string) => string;
    logs: string;
    agents: AgentProcess[];
    clusterSet?: string | ((worker: string) => string);
    env?: Record<string, string>;
    wait?: boolean;
  },
): Promise<void> {
  for (const name of opts.workers) {
    const set = typeof opts.clusterSet === 'function' ? opts.clusterSet(name) : opts.clusterSet;
    await registerWorker(api, name, set ? { clusterSet: set } : {});
    opts.agents.push(
      AgentProcess.start({
        cluster: name,
        hub: opts.hub,
        kubeconfig: opts.kubeconfigOf(name),
        logFile: join(opts.logs, `agent-${name}.log`),
        env: { MUSTER_LOG_LEVEL: 'info', ...opts.env },
      }),
    );
  }
  if (opts.wait !== false) for (const name of opts.workers) await untilReporting(api, name);
}
