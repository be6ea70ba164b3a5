// The order in which queued gangs are offered to placement in one cycle.

export interface Orderable {
  id: string;
  queue: string;
  priority: number;
  createdAt: Date;
}

/**
 * Within a queue: higher priority first, then older first. Across queues: weighted round-robin,
 * so a queue with weight 2 gets two turns for every turn of a queue with weight 1 and no queue
 * can starve another by submitting more. Deterministic for equal input.
 */
export function orderForCycle<T extends Orderable>(
  gangs: readonly T[],
  weights: ReadonlyMap<string, number>,
): T[] {
  const byQueue = new Map<string, T[]>();
  for (const g of gangs) {
    const list = byQueue.get(g.queue) ?? [];
    list.push(g);
    byQueue.set(g.queue, list);
  }
  for (const list of byQueue.values()) {
    list.sort(
      (a, b) =>
        b.priority - a.priority ||
        a.createdAt.getTime() - b.createdAt.getTime() ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }
  const queues = [...byQueue.keys()].sort();
  const cursor = new Map(queues.map((q) => [q, 0]));
  const out: T[] = [];
  while (out.length < gangs.length) {
    for (const q of queues) {
      const list = byQueue.get(q)!;
      const turns = Math.max(1, weights.get(q) ?? 1);
      for (let t = 0; t < turns; t++) {
        const i = cursor.get(q)!;
        if (i >= list.length) break;
        out.push(list[i]!);
        cursor.set(q, i + 1);
      }
    }
  }
  return out;
}
