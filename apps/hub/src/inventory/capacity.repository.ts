import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core.tokens';

/** Agents' node lists in Postgres, so the leader can schedule on a cluster streaming to another replica. */
@Injectable()
export class CapacityRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** Stores an agent's node list so the leader can schedule on it from any replica. */
  async saveCapacity(
    cluster: string,
    epoch: string,
    sequence: number,
    nodes: unknown,
    reflected: string[],
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO cluster_capacity (cluster, epoch, report_sequence, nodes, reflected, updated_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (cluster) DO UPDATE SET epoch = EXCLUDED.epoch, report_sequence = EXCLUDED.report_sequence,
         nodes = EXCLUDED.nodes, reflected = EXCLUDED.reflected, updated_at = now()`,
      [cluster, epoch, sequence, JSON.stringify(nodes), JSON.stringify(reflected)],
    );
  }

  async loadCapacity(
    clusters: string[],
  ): Promise<{ cluster: string; nodes: unknown; reflected: string[] }[]> {
    if (clusters.length === 0) return [];
    return (await this.db.query(
      'SELECT cluster, nodes, reflected FROM cluster_capacity WHERE cluster = ANY($1)',
      [clusters],
    )) as {
      cluster: string;
      nodes: unknown;
      reflected: string[];
    }[];
  }
}
