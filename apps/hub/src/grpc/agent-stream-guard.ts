// What stands between an agent's stream and the agent gateway: the client certificate (which
// cluster the stream may act for; the gateway compares it with the hello), undecodable messages
// and the message rate. A stream that breaks a rule is cut off with a status; other agents'
// streams are not affected.
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ConnectRequest, ConnectResponse } from '@muster/api';
import {
  bindAgentIdentity,
  clusterOfCertificate,
  type AgentIdentity,
} from '../auth/agent-identity';
import { TokenBucket } from '../auth/rate-limiter';
import type { Log } from '@muster/log';
import type { HubMetrics } from '../http/metrics';
import { isUndecodable, unstorableInput } from './hostile-input';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Why a decoded message cannot be used, or undefined: strings Postgres cannot store, and gang
 * ids that are not the hub's (every gang id the hub hands out is a UUID; an agent only echoes
 * them). Checked here so nonsense never reaches a query.
 */
export function unusableAgentMessage(message: ConnectRequest): string | undefined {
  const bad = unstorableInput(message);
  if (bad) return bad.message;
  const m = message.message;
  const ids: [string, string][] = [];
  if (m?.$case === 'dispatchAnswer') ids.push(['dispatch_answer.gang_id', m.dispatchAnswer.gangId]);
  if (m?.$case === 'evictionNoticed')
    ids.push(['eviction_noticed.gang_id', m.evictionNoticed.gangId]);
  if (m?.$case === 'memberStates')
    m.memberStates.members.forEach((x, i) =>
      ids.push([`member_states.members[${i}].gang_id`, x.gangId]),
    );
  for (const [field, id] of ids)
    if (!UUID.test(id)) return `${field}: must be a gang id the hub sent (a UUID)`;
  return undefined;
}

type AgentCall = ServerDuplexStream<ConnectRequest, ConnectResponse>;

export interface AgentStreamGuardOptions {
  /** Mutual TLS: a verified client certificate naming a cluster is required. */
  requireCertificate: boolean;
  /** Messages per second on one stream (0: no limit) and the burst allowed above it. */
  messagesPerSecond: number;
  messageBurst: number;
  log: Log;
  metrics: HubMetrics;
}

function refuse(call: AgentCall, code: status, details: string): void {
  call.emit('error', { code, details });
}

/**
 * The gateway sees the stream through a proxy whose "data" listeners are fed by the guard, so a
 * stream that is cut off delivers nothing more to the gateway.
 */
function guardedView(call: AgentCall, listeners: ((m: ConnectRequest) => void)[]): AgentCall {
  const view: AgentCall = new Proxy(call, {
    get(target, prop) {
      if (prop === 'on' || prop === 'addListener') {
        return (event: string, listener: (...args: unknown[]) => void) => {
          if (event === 'data') listeners.push(listener as (m: ConnectRequest) => void);
          else target.on(event, listener);
          return view;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
  return view;
}

export function guardAgentStream(
  handler: (call: AgentCall) => void,
  options: AgentStreamGuardOptions,
): (call: AgentCall) => void {
  return (call: AgentCall): void => {
    const started = process.hrtime.bigint();
    let identity: AgentIdentity;
    if (options.requireCertificate) {
      const cert = call.getAuthContext()?.sslPeerCertificate;
      if (!cert) {
        options.log.warn('agent stream refused', {
          peer: call.getPeer(),
          code: 'UNAUTHENTICATED',
          error: 'no verified client certificate',
        });
        options.metrics.observeCall('Connect', 'UNAUTHENTICATED', started);
        refuse(
          call,
          status.UNAUTHENTICATED,
          'AgentService needs a client certificate signed by the agent CA',
        );
        return;
      }
      const named = clusterOfCertificate(cert);
      if ('error' in named) {
        options.log.warn('agent stream refused', {
          peer: call.getPeer(),
          code: 'PERMISSION_DENIED',
          error: named.error,
        });
        options.metrics.observeCall('Connect', 'PERMISSION_DENIED', started);
        refuse(call, status.PERMISSION_DENIED, named.error);
        return;
      }
      const cn = cert.subject?.CN;
      identity = {
        via: 'certificate',
        cluster: named.cluster,
        subject: (Array.isArray(cn) ? cn.join(',') : cn) ?? '',
      };
    } else {
      identity = { via: 'insecure', cluster: null };
    }

    const listeners: ((m: ConnectRequest) => void)[] = [];
    const view = guardedView(call, listeners);
    bindAgentIdentity(view, identity);
    bindAgentIdentity(call, identity);
    const bucket = new TokenBucket(options.messagesPerSecond, options.messageBurst);
    let cut = false;
    const cutOff = (code: status, details: string) => {
      cut = true;
      options.log.warn('agent stream cut off', {
        cluster: identity.cluster ?? undefined,
        peer: call.getPeer(),
        code: status[code],
        error: details,
      });
      options.metrics.observeCall('Connect', status[code], started);
      refuse(call, code, details);
    };
    call.on('data', (message: ConnectRequest) => {
      if (cut) return;
      if (isUndecodable(message)) {
        cutOff(status.INVALID_ARGUMENT, 'a message on the stream is not a valid ConnectRequest');
        return;
      }
      const unusable = unusableAgentMessage(message);
      if (unusable) {
        cutOff(status.INVALID_ARGUMENT, unusable);
        return;
      }
      if (bucket.take() > 0) {
        cutOff(
          status.RESOURCE_EXHAUSTED,
          `more than ${options.messagesPerSecond} messages per second (burst ${options.messageBurst}) on one agent stream`,
        );
        return;
      }
      for (const listener of listeners) listener(message);
    });
    handler(view);
  };
}
