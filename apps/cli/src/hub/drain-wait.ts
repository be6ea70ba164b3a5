// Waits for a drained cluster to empty, for `muster clusters drain --wait`: asks the hub for the
// cluster every few seconds and tells each new count of gangs left. Polling is enough: a drain
// lasts at least its grace period, and the count is all there is to show.
import { setTimeout as wait } from 'node:timers/promises';
import { CliError } from '../errors';
import type { HubConnection } from './hub-connection';
import { present } from './present';

/** How often the cluster is asked for, in ms. */
export const DRAIN_POLL_MS = 2000;

export interface DrainWaitOptions {
  /** Told the gangs left at the start (when any) and each time the count changes. */
  onProgress: (gangsLeft: number) => void;
  /** Stops the wait (Ctrl-C); the drain itself goes on at the hub. */
  signal?: AbortSignal;
  /** Between two asks; default DRAIN_POLL_MS. */
  intervalMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** `empty` once no gang is left on the cluster; `interrupted` when the signal came first. */
export async function waitUntilDrained(
  hub: HubConnection,
  name: string,
  gangsLeft: number,
  options: DrainWaitOptions,
): Promise<'empty' | 'interrupted'> {
  const sleep = options.sleep ?? ((ms, signal) => wait(ms, undefined, { signal }));
  const { signal } = options;
  let left = gangsLeft;
  if (left > 0) options.onProgress(left);
  while (left > 0) {
    try {
      await sleep(options.intervalMs ?? DRAIN_POLL_MS, signal);
    } catch (err) {
      if (signal?.aborted) return 'interrupted';
      throw err;
    }
    if (signal?.aborted) return 'interrupted';
    const cluster = present(
      (await hub.call((c) => c.inventory.getCluster({ name }), { idempotent: true })).cluster,
      'cluster',
    );
    if (signal?.aborted) return 'interrupted';
    if (!cluster.drain) {
      throw new CliError(
        `cluster ${name} is not drained any more (it was uncordoned); the gangs that had their notice still go`,
      );
    }
    if (cluster.drain.gangsLeft !== left) {
      left = cluster.drain.gangsLeft;
      if (left > 0) options.onProgress(left);
    }
  }
  return 'empty';
}
