// The inventory as one caller may read it, in wire form: what ListClusters, ListQueues and the
// others answer over gRPC and the console's HTTP API answers as JSON, so both follow one set of
// visibility rules.
import type {
  Cluster,
  Cohort,
  GetUtilisationRequest,
  GetUtilisationResponse,
  Queue,
} from '@muster/api';
import { usageToProto } from '../scheduling/queue-quotas';
import { ErrorCode, MusterError, notFound } from '../common/errors';
import { canSeeFleet, canSeeQueue, queuesOf, type Principal } from '../auth/principal';
import { utilisationQueryToDomain, utilisationReportToProto } from './utilisation.mapper';
import type { BudgetStanding } from '../scheduling/budget';
import type { QuotaUsage } from '../scheduling/queue-quotas';
import type {
  Cluster as ClusterValue,
  Cohort as CohortValue,
  Queue as QueueValue,
} from './cluster.domain';
import type { InventoryService } from './inventory.service';
import { cohortToProto } from './cohort.mapper';
import { clusterToProto, queueToProto } from './inventory.mapper';

/**
 * A cluster as the caller may see it: submitters (tenants) do not get the access providers —
 * how to reach a worker cluster's API server is for operators.
 */
export function clusterFor(caller: Principal, cluster: ClusterValue): Cluster {
  const wire = clusterToProto(cluster);
  return caller.role === 'submitter' ? { ...wire, accessProviders: [] } : wire;
}

export async function clustersFor(
  inventory: InventoryService,
  caller: Principal,
): Promise<Cluster[]> {
  return (await inventory.listClusters()).map((c) => clusterFor(caller, c));
}

/** One queue with its usage, budget standing and fair share; another tenant's is "not found". */
export async function queueFor(
  inventory: InventoryService,
  caller: Principal,
  name: string,
): Promise<Queue> {
  // Another tenant's queue answers like a missing one.
  if (!canSeeQueue(caller, name)) throw notFound('queue', name);
  const queue = await inventory.getQueue(name);
  const [ledger, budgets, shares] = await Promise.all([
    queue.quota ? inventory.quotaLedger() : undefined,
    queue.budget ? inventory.budgetStandings([queue]) : undefined,
    inventory.fairShares(await inventory.listQueues()),
  ]);
  return queueToProtoWith(queue, ledger && usageToProto(ledger, name), budgets, shares);
}

/** The queues the caller may see, each with its usage, budget standing and fair share. */
export async function queuesFor(inventory: InventoryService, caller: Principal): Promise<Queue[]> {
  const all = await inventory.listQueues();
  const seen = all.filter((q) => canSeeQueue(caller, q.name));
  const [ledger, budgets, shares] = await Promise.all([
    all.some((q) => q.quota) ? inventory.quotaLedger(all) : undefined,
    seen.some((q) => q.budget) ? inventory.budgetStandings(seen) : undefined,
    inventory.fairShares(all),
  ]);
  return seen.map((q) =>
    queueToProtoWith(
      q,
      ledger && q.quota ? usageToProto(ledger, q.name) : undefined,
      budgets,
      shares,
    ),
  );
}

function queueToProtoWith(
  queue: QueueValue,
  usage: QuotaUsage | undefined,
  budgets: Map<string, BudgetStanding> | undefined,
  shares: Map<string, number>,
): Queue {
  return queueToProto(queue, usage, budgets?.get(queue.name), shares.get(queue.name) ?? 0);
}

/** Cohorts with what is under them; `queues` lists only those the caller may see. */
export async function cohortsFor(
  inventory: InventoryService,
  caller: Principal,
  cohorts: readonly CohortValue[],
): Promise<Cohort[]> {
  const members = await inventory.cohortMembers(cohorts.map((c) => c.name));
  return cohorts.map((c) => {
    const m = members.get(c.name)!;
    return cohortToProto(c, {
      queues: m.queues.filter((q) => canSeeQueue(caller, q)),
      children: m.children,
    });
  });
}

/** One queue's usage over one hour: the mean amount of each resource its gangs held. */
export interface UsageHour {
  /** ISO 8601, the whole UTC hour it begins at. */
  start: string;
  /** 3600, or less for the hour under way. */
  lengthSeconds: number;
  /** Resource name to the mean amount held over the hour (e.g. 2.5 GPUs). */
  held: Record<string, number>;
}

/** The usage history of the queues the caller may see, by queue name (sorted). */
/**
 * Allocated device-hours against capacity, as the caller may see them: a caller bound to queues
 * sees its queues only, and no cluster (a cluster's figures hold other tenants' use).
 */
export async function utilisationFor(
  inventory: InventoryService,
  caller: Principal,
  req: GetUtilisationRequest,
): Promise<GetUtilisationResponse> {
  const query = { ...utilisationQueryToDomain(req), queues: queuesOf(caller) };
  if (query.groupBy === 'cluster' && !canSeeFleet(caller))
    throw new MusterError(
      ErrorCode.PermissionDenied,
      'a caller bound to queues sees utilisation by queue only',
      'group_by',
    );
  return utilisationReportToProto(query, await inventory.utilisation(query));
}

export async function usageFor(
  inventory: InventoryService,
  caller: Principal,
): Promise<{ queue: string; hours: UsageHour[] }[]> {
  const history = await inventory.usageHistory();
  return [...history.entries()]
    .filter(([queue]) => canSeeQueue(caller, queue))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([queue, buckets]) => ({
      queue,
      hours: buckets.map((b) => ({
        start: b.start.toISOString(),
        lengthSeconds: b.lengthSeconds,
        // Buckets hold milli-unit-seconds.
        held: Object.fromEntries(
          Object.entries(b.seconds).map(([r, ms]) => [
            r,
            b.lengthSeconds > 0 ? ms / 1000 / b.lengthSeconds : 0,
          ]),
        ),
      })),
    }));
}
