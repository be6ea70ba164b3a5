import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { DeviceClass } from '@muster/placement';
import { DATA_SOURCE } from '../core.tokens';

/** Agents' node lists in Postgres, so the leader can schedule on a cluster streaming to another replica. */
@Injectable()
export class CapacityRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /**
   * Stores an agent's node list so the leader can schedule on it from any replica, and what the
   * cluster has as utilisation books it (`bookable`, see bookableCapacityOf).
   */
  async saveCapacity(
    cluster: string,
    epoch: string,
    sequence: number,
    nodes: unknown,
    reflected: string[],
    deviceClasses: readonly DeviceClass[] = [],
    bookable: Record<string, number> | null = null,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO cluster_capacity (cluster, epoch, report_sequence, nodes, reflected, device_classes, bookable, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (cluster) DO UPDATE SET epoch = EXCLUDED.epoch, report_sequence = EXCLUDED.report_sequence,
         nodes = EXCLUDED.nodes, reflected = EXCLUDED.reflected, device_classes = EXCLUDED.device_classes,
         bookable = EXCLUDED.bookable, updated_at = now()`,
      [
        cluster,
        epoch,
        sequence,
        JSON.stringify(nodes),
        JSON.stringify(reflected),
        JSON.stringify(deviceClasses),
        bookable && JSON.stringify(bookable),
      ],
    );
  }

  async loadCapacity(
    clusters: string[],
  ): Promise<
    { cluster: string; nodes: unknown; reflected: string[]; deviceClasses: DeviceClass[] }[]
  > {
    if (clusters.length === 0) return [];
    const rows = (await this.db.query(
      'SELECT cluster, nodes, reflected, device_classes FROM cluster_capacity WHERE cluster = ANY($1)',
      [clusters],
    )) as {
      cluster: string;
      nodes: unknown;
      reflected: string[];
      device_classes: DeviceClass[];
    }[];
    return rows.map(({ device_classes, ...r }) => ({ ...r, deviceClasses: device_classes }));
  }
}
