// Real worker clusters at a test hub: registering one, and waiting until its agent reports.
import { AgentState, type AccessProvider, type HubClients } from '@muster/api';
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
