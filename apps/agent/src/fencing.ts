// Which gangs must go: those the hub's authoritative list does not name (or names with another
// fencing token), and — when the hub has been unreachable too long — those whose job asked to be
// requeued rather than wait. Pure decisions; the agent performs the deletions.
import type { GangRef } from '@muster/api';
import type { OnClusterLostPolicy } from './constants';

export interface HeldGang {
  gangId: string;
  token: number;
}

/** Held gangs (gang, token) that an authoritative list removes. */
export function fencedByList(held: readonly HeldGang[], list: readonly GangRef[]): HeldGang[] {
  const listed = new Map<string, number>();
  for (const g of list) listed.set(g.gangId, g.fencingToken);
  return held.filter((g) => listed.get(g.gangId) !== g.token);
}

/** Applies lists in generation order: a list older than the last applied one is ignored. */
export class GenerationGate {
  private last = -1;

  /** True when the list of this generation must be applied (equal generations re-apply). */
  accept(generation: number): boolean {
    if (generation < this.last) return false;
    this.last = generation;
    return true;
  }

  get lastApplied(): number {
    return this.last;
  }
}

/** Gangs to delete when the hub stream has been down longer than the self-fence timeout. */
export function selfFenceTargets<T extends HeldGang & { onClusterLost: OnClusterLostPolicy }>(
  held: readonly T[],
): T[] {
  return held.filter((g) => g.onClusterLost === 'requeue');
}

/** True once the stream has been down for longer than the timeout. */
export function selfFenceDue(
  downSince: number | undefined,
  timeoutMs: number,
  now: number,
): boolean {
  return downSince !== undefined && now - downSince > timeoutMs;
}
