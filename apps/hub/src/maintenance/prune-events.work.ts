import type { Log } from '@muster/log';
import { JobsRepository } from '../jobs/jobs.repository';
import type { WorkDefinition } from '../queue/queue-driver';
import { Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';

export interface PruneEventsPayload {
  retentionHours: number;
}

/** Deletes old events of finished jobs (keeping each job's last one), so the event table stays small. */
@Injectable()
export class PruneEventsWork implements WorkDefinition<PruneEventsPayload> {
  readonly queue = 'maintenance';
  readonly name = 'prune-events';

  constructor(
    private readonly jobs: JobsRepository,
    @InjectLog('maintenance') private readonly log: Log,
  ) {}

  async run(payload: PruneEventsPayload): Promise<void> {
    const cutoff = new Date(Date.now() - payload.retentionHours * 3_600_000);
    const deleted = await this.jobs.pruneEvents(cutoff);
    if (deleted > 0) this.log.info('pruned job events', { deleted, cutoff: cutoff.toISOString() });
  }
}
