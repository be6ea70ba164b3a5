// A scripted agent speaking AgentService.Connect, for hub tests that need no Kubernetes: the
// test decides what capacity it reports and how it answers dispatches.
import {
  credentials,
  type ChannelCredentials,
  type ClientDuplexStream,
  type ClientOptions,
} from '@grpc/grpc-js';
import {
  AgentServiceClient,
  AgentState,
  DispatchOutcome,
  GangScheduling,
  MemberPhase,
  type ConnectRequest,
  type ConnectResponse,
  type Device,
  type DeviceClass,
  type Dispatch,
  type HubClients,
  type NodeState,
} from '@muster/api';
import { eventually } from './eventually';

export interface FakeNode {
  name: string;
  labels?: Record<string, string>;
  allocatable: Record<string, string>;
  free?: Record<string, string>;
  /** DRA devices of the node's ResourceSlices. */
  devices?: Device[];
}

/** A node reports `pods` like a kubelet (110 slots by default) unless the test says otherwise. */
export function nodeState(n: FakeNode): NodeState {
  const slots = { pods: '110' };
  return {
    name: n.name,
    labels: { 'kubernetes.io/hostname': n.name, ...(n.labels ?? {}) },
    taints: [],
    allocatable: { quantities: { ...slots, ...n.allocatable } },
    free: { quantities: { ...slots, ...(n.free ?? n.allocatable) } },
    unschedulable: false,
    ready: true,
    devices: n.devices ?? [],
    counterSets: [],
  };
}

/**
 * What each scripted cluster holds: gangs one of its agents accepted and the hub has not removed
 * since (cancel, or an authoritative list without them). Kept per cluster name, not per agent, as
 * a real cluster's pods outlive any one agent process, so a reconnecting agent's snapshot is as
 * honest as a real one's.
 */
const holdings = new Map<string, Map<string, number>>();

function holdingsOf(cluster: string): Map<string, number> {
  let h = holdings.get(cluster);
  if (!h) holdings.set(cluster, (h = new Map()));
  return h;
}

export class FakeAgent {
  readonly received: ConnectResponse[] = [];
  private stream: ClientDuplexStream<ConnectRequest, ConnectResponse> | undefined;
  private readonly client: AgentServiceClient;
  private sequence = 0;
  /** The DeviceClasses every snapshot reports. */
  deviceClasses: DeviceClass[] = [];
  ended = false;
  error: Error | undefined;

  constructor(
    address: string,
    readonly cluster: string,
    /** Optional: TLS (with the agent's client certificate) instead of plain text. */
    channelCredentials: ChannelCredentials = credentials.createInsecure(),
    channelOptions: ClientOptions = {},
  ) {
    this.client = new AgentServiceClient(address, channelCredentials, channelOptions);
  }

  connect(nodes: FakeNode[], epoch = `epoch-${Date.now()}`, topologyLevels: string[] = []): this {
    this.ended = false;
    this.stream = this.client.connect();
    this.stream.on('data', (m: ConnectResponse) => {
      this.received.push(m);
      const held = holdingsOf(this.cluster);
      if (m.message?.$case === 'cancel') {
        const c = m.message.cancel;
        if ((held.get(c.gangId) ?? Infinity) <= c.fencingToken) held.delete(c.gangId);
      } else if (m.message?.$case === 'gangList') {
        const listed = new Map(m.message.gangList.gangs.map((g) => [g.gangId, g.fencingToken]));
        for (const [gang, token] of held) if (listed.get(gang) !== token) held.delete(gang);
      }
    });
    this.stream.on('error', (e: Error) => {
      this.error = e;
      this.ended = true;
    });
    this.stream.on('end', () => (this.ended = true));
    this.send({
      $case: 'hello',
      hello: {
        cluster: this.cluster,
        agentVersion: 'fake-1',
        epoch,
        kubernetesVersion: 'v1.36.1',
        topologyLevels,
        gangScheduling: GangScheduling.GANG_SCHEDULING_GATES,
      },
    });
    this.snapshot(nodes);
    return this;
  }

  send(message: ConnectRequest['message']): void {
    this.stream!.write({ message });
  }

  /** A snapshot; `held` defaults to what the cluster holds (see `holdings`). */
  snapshot(
    nodes: FakeNode[],
    reflected: { gangId: string; fencingToken: number }[] = [],
    held: { gangId: string; fencingToken: number }[] = this.held(),
  ): void {
    this.send({
      $case: 'snapshot',
      snapshot: {
        reportSequence: ++this.sequence,
        nodes: nodes.map(nodeState),
        reflectedDispatches: reflected,
        heldGangs: held,
        deviceClasses: this.deviceClasses,
      },
    });
  }

  /** The gangs this agent's cluster holds. */
  held(): { gangId: string; fencingToken: number }[] {
    return [...holdingsOf(this.cluster)].map(([gangId, fencingToken]) => ({
      gangId,
      fencingToken,
    }));
  }

  /** The cluster loses a gang's pods behind the agent's back (deleted while it was away). */
  lose(gangId: string): void {
    holdingsOf(this.cluster).delete(gangId);
  }

  heartbeat(): void {
    this.send({
      $case: 'heartbeat',
      heartbeat: { reportSequence: this.sequence, sentAt: new Date(), ping: 0 },
    });
  }

  dispatches(): Dispatch[] {
    return this.received.flatMap((m) =>
      m.message?.$case === 'dispatch' ? [m.message.dispatch] : [],
    );
  }

  cancels(): { gangId: string; fencingToken: number }[] {
    return this.received.flatMap((m) => (m.message?.$case === 'cancel' ? [m.message.cancel] : []));
  }

  gangLists(): { gangs: { gangId: string; fencingToken: number }[]; generation: number }[] {
    return this.received.flatMap((m) =>
      m.message?.$case === 'gangList' ? [m.message.gangList] : [],
    );
  }

  answer(d: Dispatch, accepted: boolean, reason = ''): void {
    if (accepted) holdingsOf(this.cluster).set(d.gangId, d.fencingToken);
    this.send({
      $case: 'dispatchAnswer',
      dispatchAnswer: {
        gangId: d.gangId,
        fencingToken: d.fencingToken,
        outcome: accepted
          ? DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED
          : DispatchOutcome.DISPATCH_OUTCOME_REJECTED,
        reason,
        message: reason ? `test says ${reason}` : '',
      },
    });
  }

  members(d: Dispatch, phase: MemberPhase, exitCode = 0): void {
    this.send({
      $case: 'memberStates',
      memberStates: {
        batchId: 0,
        members: d.podSets.flatMap((ps) =>
          ps.members.map((m) => ({
            gangId: d.gangId,
            fencingToken: d.fencingToken,
            podSet: ps.name,
            index: m.index,
            phase,
            reason: phase === MemberPhase.MEMBER_PHASE_FAILED ? 'Error' : '',
            exitCode,
            nodeName: m.nodeName,
            podName: `${d.gangId.slice(0, 8)}-${ps.name}-${m.index}`,
          })),
        ),
      },
    });
  }

  disconnect(): void {
    this.stream?.cancel();
    this.stream = undefined;
  }

  close(): void {
    this.disconnect();
    this.client.close();
  }
}

export { eventually };

/** A scripted agent connected for a registered cluster, with heartbeats until `close()`. */
export interface FakeCluster {
  agent: FakeAgent;
  close(): void;
}

/**
 * Registers `cluster` at the hub, connects a scripted agent reporting `nodes`, sends heartbeats
 * every `heartbeatMs`, and waits until the hub calls the cluster Connected.
 */
export async function connectFakeCluster(
  api: HubClients,
  hubAddress: string,
  cluster: string,
  nodes: FakeNode[],
  heartbeatMs = 200,
  /** The cluster's topology levels (registered and reported), outermost first. */
  topologyLevels: string[] = [],
  /** The DRA DeviceClasses its reports carry. */
  deviceClasses: DeviceClass[] = [],
): Promise<FakeCluster> {
  await api.inventory.registerCluster({
    name: cluster,
    displayName: '',
    clusterSet: '',
    topologyLevels,
    accessProviders: [],
    labels: {},
  });
  const agent = new FakeAgent(hubAddress, cluster);
  agent.deviceClasses = deviceClasses;
  agent.connect(nodes, undefined, topologyLevels);
  const beat = setInterval(() => !agent.ended && agent.heartbeat(), heartbeatMs);
  const close = () => {
    clearInterval(beat);
    agent.close();
  };
  try {
    await eventually(
      `${cluster} connected`,
      async () =>
        (await api.inventory.getCluster({ name: cluster })).cluster!.agentState ===
          AgentState.AGENT_STATE_CONNECTED || undefined,
    );
  } catch (err) {
    close();
    throw err;
  }
  return { agent, close };
}
