import type { Log } from '@muster/log';
import { Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';
import type { WorkDefinition } from '../queue/queue-driver';
import { UsageRepository } from '../scheduling/usage.repository';

export interface PruneUsagePayload {
  retentionDays: number;
}

/** Deletes hourly queue and cluster usage and capacity older than the retention, so they stay small. */
@Injectable()
export class PruneUsageWork implements WorkDefinition<PruneUsagePayload> {
  readonly queue = 'maintenance';
  readonly name = 'prune-usage';

  constructor(
    private readonly usage: UsageRepository,
    @InjectLog('maintenance') private readonly log: Log,
  ) {}

  async run(payload: PruneUsagePayload): Promise<void> {
    const deleted = await this.usage.prune(payload.retentionDays);
    if (deleted > 0)
      this.log.info('pruned usage history', { deleted, retentionDays: payload.retentionDays });
  }
}
