// InventoryService's wire types and the domain: requests are checked into domain values here
// (each error names its field), answers are built from domain values. The handlers call these;
// InventoryService never sees a proto message.
import { AgentState, BudgetPeriod, PreemptionPolicy } from '@muster/api';
import type * as wire from '@muster/api';
import { dns1123LabelError, qualifiedNameError, quotaResourceError } from '@muster/k8s';
import { isValidResourceName, parseQuantity } from '@muster/placement';
import { assertNever, invalidArgument } from '../common/errors';
import type { BudgetStanding } from '../scheduling/budget';
import type { QuotaUsage } from '../scheduling/queue-quotas';
import { labelsToDomain } from '../jobs/job-spec.mapper';
import {
  DEFAULT_TOPOLOGY_LEVELS,
  type AccessProvider,
  type AgentStateName,
  type BudgetPeriodName,
  type Cluster,
  type ClusterChanges,
  type ClusterRegistration,
  type Queue,
  type QueueBudgetSpec,
  type QueuePreemptionSpec,
  type QueueQuotaSpec,
  type QueueSettings,
} from './cluster.domain';

const MAX_TOPOLOGY_LEVELS = 8;
const MAX_DISPLAY_NAME = 256;
/** Longest operator reason kept with a manual fence or a cordon. */
const MAX_REASON = 1024;

export function clusterRegistrationToDomain(req: wire.RegisterClusterRequest): ClusterRegistration {
  return {
    name: checkName('name', req.name),
    displayName: displayNameToDomain('display_name', req.displayName || req.name),
    clusterSet: clusterSetToDomain('cluster_set', req.clusterSet),
    labels: labelsToDomain('labels', req.labels),
    topologyLevels: topologyOrDefault(req.topologyLevels),
    accessProviders: accessProvidersToDomain('access_providers', req.accessProviders),
  };
}

/** Only the fields the request replaces: `display_name`/`cluster_set` when set, the rest by flag. */
export function clusterChangesToDomain(req: wire.UpdateClusterRequest): ClusterChanges {
  return {
    ...(req.displayName !== undefined
      ? { displayName: displayNameToDomain('display_name', req.displayName) }
      : {}),
    ...(req.clusterSet !== undefined
      ? { clusterSet: clusterSetToDomain('cluster_set', req.clusterSet) }
      : {}),
    ...(req.replaceTopologyLevels ? { topologyLevels: topologyOrDefault(req.topologyLevels) } : {}),
    ...(req.replaceAccessProviders
      ? { accessProviders: accessProvidersToDomain('access_providers', req.accessProviders) }
      : {}),
    ...(req.replaceLabels ? { labels: labelsToDomain('labels', req.labels) } : {}),
  };
}

function topologyOrDefault(levels: string[]): string[] {
  return levels.length > 0
    ? topologyLevelsToDomain('topology_levels', levels)
    : DEFAULT_TOPOLOGY_LEVELS;
}

export function reasonToDomain(reason: string): string {
  if (reason.length > MAX_REASON) {
    throw invalidArgument(
      'reason',
      `must be at most ${MAX_REASON} characters (got ${reason.length})`,
    );
  }
  return reason;
}

export function checkName(field: string, value: string): string {
  const error = dns1123LabelError(value);
  if (error) throw invalidArgument(field, error);
  return value;
}

export function displayNameToDomain(field: string, value: string): string {
  if (value.length > MAX_DISPLAY_NAME)
    throw invalidArgument(field, `must be at most ${MAX_DISPLAY_NAME} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw invalidArgument(field, 'must not contain control characters');
  return value;
}

export function clusterSetToDomain(field: string, value: string): string {
  if (value === '') return value;
  return checkName(field, value);
}

export function topologyLevelsToDomain(field: string, levels: string[]): string[] {
  if (levels.length > MAX_TOPOLOGY_LEVELS)
    throw invalidArgument(field, `at most ${MAX_TOPOLOGY_LEVELS} levels`);
  const seen = new Set<string>();
  levels.forEach((level, i) => {
    const error = qualifiedNameError(level);
    if (error) throw invalidArgument(`${field}[${i}]`, `${error} (a node label key)`);
    if (seen.has(level)) throw invalidArgument(`${field}[${i}]`, `duplicate level "${level}"`);
    seen.add(level);
  });
  return [...levels];
}

export function accessProvidersToDomain(
  field: string,
  providers: wire.AccessProvider[],
): AccessProvider[] {
  const names = new Set<string>();
  return providers.map((p, i) => {
    const f = `${field}[${i}]`;
    if (p.name === '' || p.name.length > 253)
      throw invalidArgument(`${f}.name`, 'must be 1 to 253 characters');
    if (names.has(p.name))
      throw invalidArgument(`${f}.name`, `duplicate access provider "${p.name}"`);
    names.add(p.name);
    const c = p.cluster;
    if (!c) throw invalidArgument(`${f}.cluster`, 'is required');
    let url: URL;
    try {
      url = new URL(c.server);
    } catch {
      throw invalidArgument(
        `${f}.cluster.server`,
        `must be a URL such as https://10.0.0.1:6443 (got "${c.server.slice(0, 100)}")`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalidArgument(`${f}.cluster.server`, 'must be an https:// (or http://) URL');
    }
    if (c.proxyUrl !== '') {
      try {
        new URL(c.proxyUrl);
      } catch {
        throw invalidArgument(`${f}.cluster.proxy_url`, 'must be a URL');
      }
    }
    return {
      name: p.name,
      cluster: {
        server: c.server,
        certificateAuthorityData: Buffer.from(c.certificateAuthorityData).toString('base64'),
        tlsServerName: c.tlsServerName,
        proxyUrl: c.proxyUrl,
        insecureSkipTlsVerify: c.insecureSkipTlsVerify,
        extensions: c.extensions.map((e, j) => {
          let extension: unknown;
          try {
            extension = JSON.parse(e.extensionJson === '' ? 'null' : e.extensionJson);
          } catch {
            throw invalidArgument(
              `${f}.cluster.extensions[${j}].extension_json`,
              'is not valid JSON',
            );
          }
          return { name: e.name, extension };
        }),
      },
    };
  });
}

export function agentStateToProto(state: AgentStateName): AgentState {
  switch (state) {
    case 'NeverConnected':
      return AgentState.AGENT_STATE_NEVER_CONNECTED;
    case 'Connected':
      return AgentState.AGENT_STATE_CONNECTED;
    case 'Lost':
      return AgentState.AGENT_STATE_LOST;
    default:
      return assertNever(state);
  }
}

export function clusterToProto(c: Cluster): wire.Cluster {
  return {
    name: c.name,
    displayName: c.displayName,
    clusterManager: c.clusterManager,
    clusterSet: c.clusterSet,
    conditions: c.conditions.map((x) => ({
      type: x.type,
      status: x.status,
      reason: x.reason,
      message: x.message,
      lastTransitionTime: new Date(x.lastTransitionTime),
      observedGeneration: x.observedGeneration,
    })),
    kubernetesVersion: c.kubernetesVersion,
    properties: c.properties.map((p) => ({
      name: p.name,
      value: p.value,
      lastObservedTime: p.lastObservedTime ? new Date(p.lastObservedTime) : undefined,
    })),
    accessProviders: c.accessProviders.map((p) => ({
      name: p.name,
      cluster: {
        server: p.cluster.server,
        certificateAuthorityData: Buffer.from(p.cluster.certificateAuthorityData, 'base64'),
        tlsServerName: p.cluster.tlsServerName,
        proxyUrl: p.cluster.proxyUrl,
        insecureSkipTlsVerify: p.cluster.insecureSkipTlsVerify,
        extensions: p.cluster.extensions.map((e) => ({
          name: e.name,
          extensionJson: JSON.stringify(e.extension),
        })),
      },
    })),
    topologyLevels: c.topologyLevels,
    capacity: c.capacity
      ? {
          nodeCount: c.capacity.nodeCount,
          readyNodeCount: c.capacity.readyNodeCount,
          allocatable: { quantities: c.capacity.allocatable },
          free: { quantities: c.capacity.free },
          observedAt: new Date(c.capacity.observedAt),
          devices: c.capacity.devices ?? [],
        }
      : undefined,
    agentState: agentStateToProto(c.agentState),
    agentVersion: c.agentVersion,
    lastHeartbeatTime: c.lastHeartbeatAt ?? undefined,
    cordoned: c.cordoned,
    drain: c.drain
      ? {
          since: new Date(c.drain.since),
          graceSeconds: c.drain.graceSeconds,
          reason: c.drain.reason,
          gangsLeft: c.drain.gangsLeft ?? 0,
        }
      : undefined,
    readOnly: c.readOnly,
    labels: c.labels,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

/**
 * A queue on the wire; `usage` (quota figures) and `budget` (what it used of its budget) are
 * given for the answers that carry them, each only for a queue that has one.
 */
export function queueToProto(
  q: Queue,
  usage?: QuotaUsage,
  budget?: BudgetStanding,
  fairShare?: number,
): wire.Queue {
  const shown = queueUsageToProto(usage, budget, fairShare);
  return {
    name: q.name,
    description: q.description,
    weight: q.weight,
    allowedNamespaces: q.allowedNamespaces,
    createdAt: q.createdAt,
    updatedAt: q.updatedAt,
    ...(q.quota
      ? {
          quota: {
            nominal: q.quota.nominal,
            cohort: q.quota.cohort ?? '',
            borrowingLimit: q.quota.borrowingLimit ?? {},
            lendingLimit: q.quota.lendingLimit ?? {},
          },
        }
      : {}),
    ...(q.budget
      ? {
          budget: {
            resource: q.budget.resource,
            hours: q.budget.hours,
            period: budgetPeriodToProto(q.budget.period),
          },
        }
      : {}),
    ...(q.maxPriority != null ? { maxPriority: q.maxPriority } : {}),
    ...(q.preemption
      ? {
          preemption: {
            withinQueue: preemptionPolicyToProto(q.preemption.withinQueue),
            reclaimWithinCohort: preemptionPolicyToProto(q.preemption.reclaimWithinCohort),
          },
        }
      : {}),
    ...(shown ? { usage: shown } : {}),
  };
}

/**
 * QueueUsage: the quota's figures, the budget's and the fair share, each zero when the queue has
 * none; absent when none was asked for (a queue just created or updated).
 */
function queueUsageToProto(
  quota: QuotaUsage | undefined,
  budget: BudgetStanding | undefined,
  fairShare: number | undefined,
): wire.QueueUsage | undefined {
  if (!quota && !budget && fairShare === undefined) return undefined;
  return {
    used: quota?.used ?? {},
    borrowed: quota?.borrowed ?? {},
    available: quota?.available ?? {},
    budgetUsedHours: budget?.usedHours ?? 0,
    budgetLeftHours: budget?.leftHours ?? 0,
    ...(budget ? { budgetPeriodStart: budget.periodStart } : {}),
    fairShare: fairShare ?? 0,
  };
}

function budgetPeriodToProto(period: BudgetPeriodName): BudgetPeriod {
  switch (period) {
    case 'day':
      return BudgetPeriod.BUDGET_PERIOD_DAY;
    case 'week':
      return BudgetPeriod.BUDGET_PERIOD_WEEK;
    case 'month':
      return BudgetPeriod.BUDGET_PERIOD_MONTH;
    default:
      return assertNever(period);
  }
}

/** What a budget counts when its request names no resource. */
export const DEFAULT_BUDGET_RESOURCE = 'nvidia.com/gpu';
/** Most device-hours one budget may give per period. */
const MAX_BUDGET_HOURS = 1e9;

/** A budget from the wire, checked: a resource name, hours above 0, a period. */
function budgetToDomain(field: string, b: wire.QueueBudget | undefined): QueueBudgetSpec | null {
  if (!b) return null;
  const resource = b.resource === '' ? DEFAULT_BUDGET_RESOURCE : b.resource;
  if (!isValidResourceName(resource))
    throw invalidArgument(
      `${field}.resource`,
      `"${resource.slice(0, 100)}" is not a resource name`,
    );
  if (!Number.isFinite(b.hours) || b.hours <= 0 || b.hours > MAX_BUDGET_HOURS) {
    throw invalidArgument(
      `${field}.hours`,
      `must be a number of device-hours above 0 and at most ${MAX_BUDGET_HOURS} (got ${b.hours})`,
    );
  }
  let period: BudgetPeriodName;
  switch (b.period) {
    case BudgetPeriod.BUDGET_PERIOD_DAY:
      period = 'day';
      break;
    case BudgetPeriod.BUDGET_PERIOD_WEEK:
      period = 'week';
      break;
    case BudgetPeriod.BUDGET_PERIOD_MONTH:
      period = 'month';
      break;
    default:
      throw invalidArgument(
        `${field}.period`,
        `is required: BUDGET_PERIOD_DAY, BUDGET_PERIOD_WEEK or BUDGET_PERIOD_MONTH (got ${String(b.period)})`,
      );
  }
  return { resource, hours: b.hours, period };
}

/** Most resources one quota may name. */
const MAX_QUOTA_RESOURCES = 64;

/**
 * Quota amounts from the wire (a queue's or a cohort's), checked: at most 64 resource names,
 * each with a quantity of at least 0, kept as written (trimmed), sorted by name; with `within`,
 * only resources it names too.
 */
export function quotaAmountsToDomain(
  field: string,
  m: Record<string, string>,
  within?: Record<string, string>,
): Record<string, string> {
  const keys = Object.keys(m).sort();
  if (keys.length > MAX_QUOTA_RESOURCES)
    throw invalidArgument(field, `at most ${MAX_QUOTA_RESOURCES} resources`);
  const out: Record<string, string> = {};
  for (const k of keys) {
    const kf = `${field}[${JSON.stringify(k)}]`;
    const nameError = quotaResourceError(k);
    if (nameError) throw invalidArgument(kf, nameError);
    if (within && !(k in within))
      throw invalidArgument(kf, `names ${k}, which the nominal quota does not`);
    const text = m[k]!.trim();
    const parsed = parseQuantity(text, kf);
    if (!parsed.ok) throw invalidArgument(kf, parsed.error.message);
    if (parsed.value < 0n) throw invalidArgument(kf, `must not be negative (got ${text})`);
    out[k] = text;
  }
  return out;
}

/** A quota from the wire, checked: resource names, quantities, a cohort for the limits. */
function quotaToDomain(field: string, q: wire.QueueQuota | undefined): QueueQuotaSpec | null {
  if (!q) return null;
  const nominal = quotaAmountsToDomain(`${field}.nominal`, q.nominal);
  if (Object.keys(nominal).length === 0)
    throw invalidArgument(`${field}.nominal`, 'must name at least one resource');
  const borrowing = quotaAmountsToDomain(`${field}.borrowing_limit`, q.borrowingLimit, nominal);
  const lending = quotaAmountsToDomain(`${field}.lending_limit`, q.lendingLimit, nominal);
  if (q.cohort === '') {
    if (Object.keys(borrowing).length > 0)
      throw invalidArgument(`${field}.borrowing_limit`, 'needs a cohort to borrow from');
    if (Object.keys(lending).length > 0)
      throw invalidArgument(`${field}.lending_limit`, 'needs a cohort to lend to');
    return { nominal };
  }
  checkName(`${field}.cohort`, q.cohort);
  return {
    nominal,
    cohort: q.cohort,
    ...(Object.keys(borrowing).length > 0 ? { borrowingLimit: borrowing } : {}),
    ...(Object.keys(lending).length > 0 ? { lendingLimit: lending } : {}),
  };
}

export function queueToDomain(field: string, q: wire.Queue | undefined): QueueSettings {
  if (!q) throw invalidArgument(field, 'is required');
  checkName(`${field}.name`, q.name);
  if (q.description.length > 1024)
    throw invalidArgument(`${field}.description`, 'must be at most 1024 characters');
  const weight = q.weight === 0 ? 1 : q.weight;
  if (!Number.isInteger(weight) || weight < 1 || weight > 1000) {
    throw invalidArgument(`${field}.weight`, `must be between 1 and 1000 (got ${q.weight})`);
  }
  const namespaces = new Set<string>();
  q.allowedNamespaces.forEach((ns, i) => {
    checkName(`${field}.allowed_namespaces[${i}]`, ns);
    namespaces.add(ns);
  });
  return {
    name: q.name,
    description: q.description,
    weight,
    allowedNamespaces: [...namespaces].sort(),
    quota: quotaToDomain(`${field}.quota`, q.quota),
    budget: budgetToDomain(`${field}.budget`, q.budget),
    preemption: preemptionToDomain(`${field}.preemption`, q.preemption),
    maxPriority: q.maxPriority ?? null,
  };
}

const WITHIN_QUEUE: Partial<Record<PreemptionPolicy, QueuePreemptionSpec['withinQueue']>> = {
  [PreemptionPolicy.PREEMPTION_POLICY_UNSPECIFIED]: 'Never',
  [PreemptionPolicy.PREEMPTION_POLICY_NEVER]: 'Never',
  [PreemptionPolicy.PREEMPTION_POLICY_LOWER_PRIORITY]: 'LowerPriority',
};
const RECLAIM: Partial<Record<PreemptionPolicy, QueuePreemptionSpec['reclaimWithinCohort']>> = {
  ...WITHIN_QUEUE,
  [PreemptionPolicy.PREEMPTION_POLICY_ANY]: 'Any',
};

/** A queue's preemption rules; null when absent or when they allow nothing. */
function preemptionToDomain(
  field: string,
  p: wire.QueuePreemption | undefined,
): QueuePreemptionSpec | null {
  if (!p) return null;
  const withinQueue = WITHIN_QUEUE[p.withinQueue];
  if (!withinQueue)
    throw invalidArgument(
      `${field}.within_queue`,
      'must be NEVER or LOWER_PRIORITY (a queue preempts only its own lower-priority gangs)',
    );
  const reclaimWithinCohort = RECLAIM[p.reclaimWithinCohort];
  if (!reclaimWithinCohort)
    throw invalidArgument(`${field}.reclaim_within_cohort`, 'must be NEVER, LOWER_PRIORITY or ANY');
  if (withinQueue === 'Never' && reclaimWithinCohort === 'Never') return null;
  return { withinQueue, reclaimWithinCohort };
}

function preemptionPolicyToProto(p: string): PreemptionPolicy {
  return p === 'LowerPriority'
    ? PreemptionPolicy.PREEMPTION_POLICY_LOWER_PRIORITY
    : p === 'Any'
      ? PreemptionPolicy.PREEMPTION_POLICY_ANY
      : PreemptionPolicy.PREEMPTION_POLICY_NEVER;
}
