import type { Log } from '@muster/log';
import type { WorkDefinition } from '../queue/queue-driver';
import { DispatchRepository } from './dispatch.repository';
import { Dispatcher } from './dispatcher';
import { Evictions } from './evictions';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';

export const RECONCILE_SETTINGS = Symbol('RECONCILE_SETTINGS');

export interface ReconcileSettings {
  /** A delivery older than this is sent again, in ms. */
  staleAfterMs: number;
}

/**
 * Rebuilds queue work from Postgres: every Reserved gang that has waited a while gets its
 * delivery queued again, and every eviction its next step (see Evictions.reconcile), so a lost
 * BullMQ job (or an emptied Redis) loses nothing.
 */
@Injectable()
export class ReconcileWork implements WorkDefinition<Record<string, never>> {
  readonly queue = 'maintenance';
  readonly name = 'reconcile-dispatches';

  constructor(
    private readonly repo: DispatchRepository,
    private readonly dispatcher: Dispatcher,
    private readonly evictions: Evictions,
    @Inject(RECONCILE_SETTINGS) private readonly settings: ReconcileSettings,
    @InjectLog('reconcile') private readonly log: Log,
  ) {}

  async run(): Promise<void> {
    await this.evictions.reconcile();
    const stale = await this.repo.reservedOn(null, this.settings.staleAfterMs);
    if (stale.length === 0) return;
    // A fresh id per pass: an earlier delivery that gave up must not block this one.
    await this.dispatcher.enqueueDispatches(
      stale.map((s) => ({ ...s, state: 'Reserved' as const })),
      `.r${Date.now()}`,
    );
    this.log.info('re-queued deliveries of reserved gangs', { gangs: stale.length });
  }
}
