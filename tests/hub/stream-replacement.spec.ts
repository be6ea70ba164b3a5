// The hub's end of the agent stream, in process: what it says on its own (HelloAck with the fence
// terms, a HubHeartbeat every interval, MemberStatesAck only after the commit) and the order it
// applies messages in when an agent's stream is replaced by a newer one. The collaborators are
// scripted (no database): this checks the gateway's ordering, not persistence, which
// tests/hub/member-acks.e2e.spec.ts covers with a real hub.
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import {
  MemberPhase,
  type ConnectRequest,
  type ConnectResponse,
  type MemberState,
} from '@muster/api';
import { AgentGateway } from '../../apps/hub/src/agents/agent-gateway';
import { AgentRegistry } from '../../apps/hub/src/agents/agent-session';
import { bindAgentIdentity } from '../../apps/hub/src/auth/agent-identity';
import type { Dispatcher } from '../../apps/hub/src/dispatch/dispatcher';
import type { CapacityRepository } from '../../apps/hub/src/inventory/capacity.repository';
import { createLog } from '@muster/log';
import type {
  ClusterStatusRepository,
  InventoryRepository,
} from '../../apps/hub/src/inventory/inventory.repository';
import { CycleRequests } from '../../apps/hub/src/scheduling/cycle-requests';
import { eventually } from '../support/eventually';

type Call = ServerDuplexStream<ConnectRequest, ConnectResponse>;

class FakeCall extends EventEmitter {
  readonly written: ConnectResponse[] = [];
  ended = false;

  write(m: ConnectResponse): boolean {
    if (this.ended) throw new Error('write after end');
    this.written.push(m);
    return true;
  }

  end(): void {
    this.ended = true;
  }

  send(message: ConnectRequest['message']): void {
    this.emit('data', { message });
  }

  of<K extends NonNullable<ConnectResponse['message']>['$case']>(kind: K) {
    return this.written
      .map((w) => w.message)
      .filter((m): m is Extract<NonNullable<ConnectResponse['message']>, { $case: K }> =>
        Boolean(m && m.$case === kind),
      );
  }
}

function member(tag: string): MemberState {
  return {
    gangId: '3f2a9c1e-7b4d-4e8f-9a01-23456789abcd',
    fencingToken: 1,
    podSet: 'w',
    index: 0,
    phase: MemberPhase.MEMBER_PHASE_RUNNING,
    reason: tag, // which message this is, for the order below
    exitCode: 0,
    nodeName: 'n1',
    podName: 'p',
  };
}

function hello(): ConnectRequest['message'] {
  return {
    $case: 'hello',
    hello: {
      cluster: 'east',
      agentVersion: 't',
      epoch: 'e1',
      kubernetesVersion: 'v1.36.1',
      topologyLevels: [],
      gangScheduling: 0,
    },
  };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  await eventually(what, () => ok() || undefined, { timeoutMs: 5000, intervalMs: 5 });
}

describe('agent gateway', () => {
  const applied: string[] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const registry = new AgentRegistry();
  const dispatcher = {
    async onMemberStates(_cluster: string, states: MemberState[]) {
      if (states[0]?.reason === 'old-1') await held; // a slow commit
      applied.push(states.map((s) => s.reason).join());
    },
    async onAnswer() {},
    async resync() {},
  };
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const gateway = new AgentGateway(
    { findCluster: async (name: string) => ({ name }) } as unknown as InventoryRepository,
    { patch: async () => undefined } as unknown as ClusterStatusRepository,
    registry,
    dispatcher as unknown as Dispatcher,
    { saveCapacity: async () => undefined } as unknown as CapacityRepository,
    {
      heartbeatIntervalMs: 20,
      selfFenceTimeoutMs: 4000,
      fenceDeleteGraceSeconds: 7,
      persistIntervalMs: 500,
    },
    new CycleRequests(),
    createLog({ level: 'error', destination: quiet }).child({ component: 'agents' }),
  );
  const streams: FakeCall[] = [];
  const open = () => {
    const call = new FakeCall();
    bindAgentIdentity(call, { via: 'insecure', cluster: null });
    gateway.connect(call as unknown as Call);
    call.send(hello());
    streams.push(call);
    return call;
  };

  afterAll(() => {
    release();
    for (const s of streams) s.emit('end');
  });

  it('tells the fence terms, then speaks every heartbeat interval on its own', async () => {
    const a = open();
    await until('HelloAck', () => a.of('helloAck').length === 1);
    expect(a.of('helloAck')[0]!.helloAck).toEqual({
      heartbeatIntervalMs: 20,
      selfFenceTimeoutMs: 4000,
      fenceDeleteGraceSeconds: 7,
      echoesHeartbeats: true,
    });
    await until('three hub heartbeats', () => a.of('hubHeartbeat').length >= 3);
    expect(a.written[0]!.message?.$case).toBe('helloAck');
  });

  it('echoes the highest heartbeat ping on everything it sends after it, and answers it', async () => {
    const a = streams[0]!;
    expect(a.written.every((m) => m.heartbeatEcho === 0)).toBe(true);
    const before = a.written.length;
    a.send({ $case: 'heartbeat', heartbeat: { reportSequence: 0, sentAt: undefined, ping: 5 } });
    await until('an echo of ping 5', () => a.written.length > before);
    expect(a.written[before]!).toMatchObject({
      heartbeatEcho: 5,
      message: { $case: 'hubHeartbeat' },
    });
    // An older ping does not lower the echo.
    a.send({ $case: 'heartbeat', heartbeat: { reportSequence: 0, sentAt: undefined, ping: 3 } });
    const later = a.written.length;
    await until('two more hub heartbeats', () => a.written.length >= later + 2);
    expect(a.written.slice(before).every((m) => m.heartbeatEcho === 5)).toBe(true);
  });

  it('drops what a replaced stream still has queued; the new one goes after its message in hand', async () => {
    const a = streams[0]!;
    a.send({ $case: 'memberStates', memberStates: { batchId: 1, members: [member('old-1')] } });
    a.send({ $case: 'memberStates', memberStates: { batchId: 2, members: [member('old-2')] } });
    // The agent reconnects while the old stream's first batch is still being committed.
    const b = open();
    await until('HelloAck on the new stream', () => b.of('helloAck').length === 1);
    b.send({ $case: 'memberStates', memberStates: { batchId: 3, members: [member('new-3')] } });
    await new Promise((r) => setTimeout(r, 50));
    expect(applied).toEqual([]); // the new stream waits for the old stream's commit in hand
    release();
    await until('the new batch applied', () => applied.includes('new-3'));
    await new Promise((r) => setTimeout(r, 50));
    expect(applied).toEqual(['old-1', 'new-3']);
    // Acknowledged after the commit, on the stream it came on; the old stream is closed.
    expect(b.of('memberStatesAck').map((m) => m.memberStatesAck.batchId)).toEqual([3]);
    expect(a.ended).toBe(true);
    expect(a.of('memberStatesAck')).toEqual([]);
    const beats = a.of('hubHeartbeat').length;
    await new Promise((r) => setTimeout(r, 60));
    expect(a.of('hubHeartbeat').length).toBe(beats); // a closed stream gets no heartbeats
  });

  it('asks for no answer when the agent sends no batch id', async () => {
    const b = streams[1]!;
    b.send({ $case: 'memberStates', memberStates: { batchId: 0, members: [member('no-ack')] } });
    await until('applied', () => applied.includes('no-ack'));
    await new Promise((r) => setTimeout(r, 20));
    expect(b.of('memberStatesAck').map((m) => m.memberStatesAck.batchId)).toEqual([3]);
  });
});
