import type { WorkDefinition } from '../queue/queue-driver';

/** No payload: the resync reads everything it needs. */
export type ResyncPayload = Record<string, never>;

/**
 * The periodic full resync of ClusterProfiles: one forced pass that applies every Muster cluster's
 * ClusterProfile whatever the cache says. Repeated by BullMQ, so it runs on one replica at a time.
 */
export class ClusterProfileResyncWork implements WorkDefinition<ResyncPayload> {
  readonly queue = 'cluster-profiles';
  readonly name = 'resync';

  constructor(private readonly sync: { resync(): Promise<void> }) {}

  run(): Promise<void> {
    return this.sync.resync();
  }
}
