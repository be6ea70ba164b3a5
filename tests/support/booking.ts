// The double-booking check a fleet sampler runs on each sample: the live reservations of every
// node summed per resource, against what the node has. Pure, so it is shown failing on a seeded
// over-booking before a sampler trusts it.
import { parseQuantity } from '@muster/placement';

export interface LiveReservation {
  jobId: string;
  cluster: string;
  /** Per node, the requests the reservation holds there (quantity strings). */
  nodeRequests: Record<string, Record<string, string>>;
}

/** Milli-units of a quantity string; a quantity that does not parse fails the check loudly. */
function milli(resource: string, q: string): bigint {
  const r = parseQuantity(q);
  if (!r.ok) throw new Error(`unreadable quantity ${resource}=${q}: ${r.error.message}`);
  return r.value;
}

/**
 * One line per (cluster, node, resource) whose reservations together ask for more than the node
 * has, naming the jobs; a reservation on a node that does not exist counts too.
 */
export function overbooked(
  reservations: readonly LiveReservation[],
  capacityOf: (cluster: string, node: string) => Record<string, string> | undefined,
): string[] {
  const held = new Map<string, { sum: Map<string, bigint>; jobs: string[] }>();
  for (const r of reservations) {
    for (const [node, requests] of Object.entries(r.nodeRequests)) {
      const key = `${r.cluster}/${node}`;
      let h = held.get(key);
      if (!h) held.set(key, (h = { sum: new Map(), jobs: [] }));
      h.jobs.push(r.jobId);
      for (const [resource, q] of Object.entries(requests))
        h.sum.set(resource, (h.sum.get(resource) ?? 0n) + milli(resource, q));
    }
  }
  const out: string[] = [];
  for (const [key, h] of held) {
    const [cluster, node] = key.split('/') as [string, string];
    const capacity = capacityOf(cluster, node);
    if (!capacity) {
      out.push(`${key}: reserved by ${h.jobs.join(', ')} but no such node`);
      continue;
    }
    for (const [resource, sum] of h.sum) {
      const has = capacity[resource] === undefined ? 0n : milli(resource, capacity[resource]);
      if (sum > has)
        out.push(`${key} ${resource}: ${sum}m reserved of ${has}m by ${h.jobs.join(', ')}`);
    }
  }
  return out;
}
