import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  gangSchedulingToJSON,
  type ConnectRequest,
  type ConnectResponse,
  type Hello,
} from '@muster/api';
import { dns1123LabelError } from '@muster/k8s';
import { gangRefKey } from '@muster/common';
import type { Log } from '@muster/log';
import { InventoryRepository, ClusterStatusRepository } from '../inventory/inventory.repository';
import type { Condition } from '../inventory/cluster.domain';
import { CapacityRepository } from '../inventory/capacity.repository';
import { Dispatcher } from '../dispatch/dispatcher';
import { AgentRegistry, AgentSession } from './agent-session';
import {
  bookableCapacityOf,
  capacitySummaryOf,
  deviceClassesOf,
  reportedNodeOf,
} from './capacity.mapper';
import { helloClusterError } from '../auth/agent-identity';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';
import { CycleRequests } from '../scheduling/cycle-requests';

export const GATEWAY_SETTINGS = Symbol('GATEWAY_SETTINGS');

export interface GatewaySettings {
  /** Told to agents, and the period of the hub's own HubHeartbeat on every stream, in ms. */
  heartbeatIntervalMs: number;
  /** Told to agents: their lease on `requeue` gangs, in ms. */
  selfFenceTimeoutMs: number;
  /** Told to agents: most grace of the pod deletes they make for fencing, in seconds. */
  fenceDeleteGraceSeconds: number;
  /** Capacity is written to Postgres at most this often per cluster, in ms. */
  persistIntervalMs: number;
}

class StreamRejected extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

function condition(type: string, ok: boolean, reason: string, message: string): Condition {
  return {
    type,
    status: ok ? 'True' : 'False',
    reason,
    message,
    lastTransitionTime: new Date().toISOString(),
    observedGeneration: 0,
  };
}

/**
 * Each saved capacity row holds every node of its cluster, so saves are paced by size: at most
 * one per 5 s for a cluster of 1,000 nodes (else a fleet of them rewrites megabytes a second for
 * replicas that only read it after a failover). A row's nodes and reflected dispatches are one
 * consistent report, so Muster's own reservations are never counted twice or missed; an older
 * row only hides a little longer what changed outside Muster, as a late report would.
 */
const PERSIST_MS_PER_NODE = 5;

/** The hub's end of AgentService.Connect: one stream per worker cluster. */
@Injectable()
export class AgentGateway {
  constructor(
    private readonly inventory: InventoryRepository,
    private readonly clusters: ClusterStatusRepository,
    private readonly registry: AgentRegistry,
    private readonly dispatcher: Dispatcher,
    private readonly capacity: CapacityRepository,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly cycles: CycleRequests,
    @InjectLog('agents') private readonly log: Log,
  ) {}

  readonly connect = (call: ServerDuplexStream<ConnectRequest, ConnectResponse>): void => {
    let session: AgentSession | undefined;
    let chain = Promise.resolve();
    let persistTimer: NodeJS.Timeout | undefined;
    let lastHeartbeatWrite = 0;
    let resynced = false;

    const persist = () => {
      if (persistTimer || !session) return;
      const s = session;
      const delayMs = Math.max(this.settings.persistIntervalMs, s.nodes.size * PERSIST_MS_PER_NODE);
      persistTimer = setTimeout(() => {
        persistTimer = undefined;
        const nodes = [...s.nodes.values()];
        const summary = capacitySummaryOf(nodes, s.deviceClasses);
        void Promise.all([
          this.capacity.saveCapacity(
            s.cluster,
            s.epoch,
            s.reportSequence,
            nodes,
            [...s.reflected],
            s.deviceClasses,
            bookableCapacityOf(summary),
          ),
          this.clusters.patch(s.cluster, { capacity: summary }),
        ]).catch((err: Error) =>
          this.log.warn('saving capacity failed', { cluster: s.cluster, err }),
        );
      }, delayMs);
    };

    const reject = (code: status, message: string) => {
      this.log.warn('agent stream refused', {
        cluster: session?.cluster,
        code: status[code],
        error: message,
      });
      call.emit('error', { code, details: message });
    };

    const handle = async (msg: ConnectRequest): Promise<void> => {
      const m = msg.message;
      if (!m) throw new StreamRejected(status.INVALID_ARGUMENT, 'message: empty');
      if (!session) {
        if (m.$case !== 'hello')
          throw new StreamRejected(status.FAILED_PRECONDITION, 'the first message must be hello');
        session = await this.open(call, m.hello, () => chain);
        return;
      }
      const s = session;
      switch (m.$case) {
        case 'hello':
          throw new StreamRejected(status.FAILED_PRECONDITION, 'hello sent twice on one stream');
        case 'snapshot': {
          const nodes = new Map<string, ReturnType<typeof reportedNodeOf>>();
          m.snapshot.nodes.forEach((n, i) =>
            nodes.set(n.name, reportedNodeOf(n, `snapshot.nodes[${i}]`)),
          );
          s.nodes.clear();
          for (const r of nodes.values()) {
            if (!r.ok) throw new StreamRejected(status.INVALID_ARGUMENT, r.error);
            s.nodes.set(r.node.name, r.node);
          }
          s.reflected = new Set(
            m.snapshot.reflectedDispatches.map((g) => gangRefKey(g.gangId, g.fencingToken)),
          );
          s.deviceClasses = deviceClassesOf(m.snapshot.deviceClasses);
          s.reportSequence = m.snapshot.reportSequence;
          persist();
          this.cycles.requestCycle('capacity');
          // Placements whose pods are no longer in the cluster end here, not never.
          await this.dispatcher.onHeldGangs(s.cluster, m.snapshot.heldGangs);
          if (!resynced) {
            resynced = true;
            await this.dispatcher.resync(s);
          }
          return;
        }
        case 'delta': {
          const upserts = m.delta.upsertedNodes.map((n, i) =>
            reportedNodeOf(n, `delta.upserted_nodes[${i}]`),
          );
          for (const r of upserts)
            if (!r.ok) throw new StreamRejected(status.INVALID_ARGUMENT, r.error);
          for (const r of upserts) if (r.ok) s.nodes.set(r.node.name, r.node);
          for (const name of m.delta.removedNodes) s.nodes.delete(name);
          s.reflected = new Set(
            m.delta.reflectedDispatches.map((g) => gangRefKey(g.gangId, g.fencingToken)),
          );
          s.deviceClasses = deviceClassesOf(m.delta.deviceClasses);
          s.reportSequence = m.delta.reportSequence;
          persist();
          this.cycles.requestCycle('capacity');
          return;
        }
        case 'heartbeat':
          return; // recorded on arrival, before the chain (see below)
        case 'dispatchAnswer':
          await this.dispatcher.onAnswer(s.cluster, m.dispatchAnswer);
          return;
        case 'evictionNoticed':
          await this.dispatcher.onEvictionNoticed(
            s.cluster,
            m.evictionNoticed.gangId,
            m.evictionNoticed.fencingToken,
          );
          return;
        case 'memberStates': {
          await this.dispatcher.onMemberStates(s.cluster, m.memberStates.members);
          // Only now, after the commit: an agent keeps a batch until it is acknowledged, so a
          // batch this hub dies or fails on is sent again rather than lost.
          const batchId = m.memberStates.batchId;
          if (batchId > 0)
            s.send({ message: { $case: 'memberStatesAck', memberStatesAck: { batchId } } });
          return;
        }
        default: {
          const never: never = m;
          throw new StreamRejected(status.INVALID_ARGUMENT, `unknown message ${String(never)}`);
        }
      }
    };

    call.on('data', (msg: ConnectRequest) => {
      // Liveness is taken from the stream itself, on arrival: a message stuck behind a slow one
      // (or a slow database) must not make a connected cluster look silent.
      if (session) {
        session.lastMessageAt = performance.now();
        if (msg.message?.$case === 'heartbeat') {
          const { ping } = msg.message.heartbeat;
          if (ping > session.heardPing) {
            // Answered at once: the agent's lease counts from when it sent the ping this echoes.
            session.heardPing = ping;
            session.send({
              message: { $case: 'hubHeartbeat', hubHeartbeat: { sentAt: new Date() } },
            });
          }
          const now = performance.now();
          if (now - lastHeartbeatWrite >= this.settings.heartbeatIntervalMs / 2) {
            lastHeartbeatWrite = now;
            const cluster = session.cluster;
            this.clusters
              .patch(cluster, { lastHeartbeatAt: 'now', agentState: 'Connected' })
              .catch((err: Error) =>
                this.log.warn('could not record a heartbeat', { cluster, err }),
              );
          }
        }
      }
      chain = chain
        .then(async () => {
          // A newer stream of this cluster was accepted: what this one still has queued is older
          // than anything that stream sends and must not be applied after it.
          if (session?.replaced) return;
          // Messages are handled in order; a stuck one would silence heartbeats, so say so.
          const slow = setTimeout(
            () =>
              this.log.warn('agent message still being handled after 5 s', {
                cluster: session?.cluster,
                message: msg.message?.$case,
              }),
            5000,
          );
          try {
            await handle(msg);
          } finally {
            clearTimeout(slow);
          }
        })
        .catch((err: unknown) => {
          if (err instanceof StreamRejected) reject(err.code, err.message);
          else {
            this.log.error('agent message failed', {
              cluster: session?.cluster,
              err,
            });
          }
        });
    });
    const closed = () => {
      if (persistTimer) clearTimeout(persistTimer);
      session?.stopHeartbeat();
      if (session && this.registry.remove(session)) {
        session.closed = true;
        this.log.info('agent disconnected', { cluster: session.cluster, epoch: session.epoch });
      }
    };
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('error', closed);
    call.on('cancelled', closed);
  };

  private async open(
    call: ServerDuplexStream<ConnectRequest, ConnectResponse>,
    hello: Hello,
    drained: () => Promise<void>,
  ): Promise<AgentSession> {
    const nameError = dns1123LabelError(hello.cluster);
    if (nameError) throw new StreamRejected(status.INVALID_ARGUMENT, `hello.cluster: ${nameError}`);
    // --- auth: the stream may act only for the cluster its client certificate names ---
    const identityError = helloClusterError(call, hello.cluster);
    if (identityError) throw new StreamRejected(status.PERMISSION_DENIED, identityError);
    // --- end auth ---
    const cluster = await this.inventory.findCluster(hello.cluster);
    if (!cluster) {
      throw new StreamRejected(
        status.NOT_FOUND,
        `cluster "${hello.cluster}" is not registered; register it first (muster clusters register ${hello.cluster})`,
      );
    }
    const session = new AgentSession(
      cluster.name,
      hello.epoch.slice(0, 64),
      hello.agentVersion.slice(0, 64),
      call,
    );
    session.drained = drained;
    try {
      await this.clusters.patch(cluster.name, {
        agentState: 'Connected',
        agentVersion: session.agentVersion,
        kubernetesVersion: hello.kubernetesVersion.slice(0, 64),
        lastHeartbeatAt: 'now',
        conditions: [
          condition('Joined', true, 'AgentConnected', 'the Muster agent has connected'),
          condition('ControlPlaneHealthy', true, 'AgentHeartbeat', 'the agent reports heartbeats'),
        ],
      });
    } catch (err) {
      // Not registered yet: no delivery may go into a stream the hub could not record.
      throw new StreamRejected(
        status.UNAVAILABLE,
        `could not record the connection: ${(err as Error).message}; retry`,
      );
    }
    // Registered only now, so a failed hello leaves no session behind to deliver into.
    const previous = this.registry.add(session);
    // HelloAck before anything else, so the agent knows the fence terms before any dispatch.
    session.send({
      message: {
        $case: 'helloAck',
        helloAck: {
          heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
          selfFenceTimeoutMs: this.settings.selfFenceTimeoutMs,
          fenceDeleteGraceSeconds: this.settings.fenceDeleteGraceSeconds,
          echoesHeartbeats: true,
        },
      },
    });
    session.startHeartbeat(this.settings.heartbeatIntervalMs);
    // The old stream's queued messages are dropped (replaced); the one it is handling right now
    // finishes first, so this stream's messages are applied after it, never before.
    if (previous) await previous.drained();
    this.log.info('agent connected', {
      cluster: cluster.name,
      epoch: session.epoch,
      agentVersion: session.agentVersion,
      // How the worker holds gangs together: GANG_SCHEDULING_WORKLOAD_API or _GATES.
      gangScheduling: gangSchedulingToJSON(hello.gangScheduling),
    });
    return session;
  }
}
