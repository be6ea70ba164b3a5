// Queues for people.
import type { Queue } from '@muster/api';
import { renderTable } from './table';
import { age } from './time-format';

/** An empty list means the hub's rule: only the "default" namespace. */
export function allowedNamespaces(q: Queue): string {
  return q.allowedNamespaces.length > 0 ? q.allowedNamespaces.join(',') : 'default';
}

export function renderQueueTable(queues: readonly Queue[], now: Date): string {
  return renderTable(
    ['NAME', 'WEIGHT', 'NAMESPACES', 'AGE', 'DESCRIPTION'],
    queues.map((q) => [
      q.name,
      String(q.weight),
      allowedNamespaces(q),
      age(q.createdAt, now),
      q.description || '-',
    ]),
  );
}
