import type { DataSource } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ClusterEntity } from '../inventory/cluster.entity';
import { IMPORTED_FROM_LABEL, type ImportedChanges } from './cluster-profile.import';
import type { ClusterRowStore } from './cluster-profile.store';

const COLUMNS: Record<keyof ImportedChanges | 'clusterManager', { column: string; json: boolean }> =
  {
    displayName: { column: 'display_name', json: false },
    clusterManager: { column: 'cluster_manager', json: false },
    clusterSet: { column: 'cluster_set', json: false },
    labels: { column: 'labels', json: true },
    topologyLevels: { column: 'topology_levels', json: false },
    accessProviders: { column: 'access_providers', json: true },
    properties: { column: 'properties', json: true },
    conditions: { column: 'conditions', json: true },
    kubernetesVersion: { column: 'kubernetes_version', json: false },
  };

/** The SQL of ClusterProfile sync: reads every cluster, writes only read-only (imported) rows. */
export class ClusterProfileRepository implements ClusterRowStore {
  constructor(private readonly db: DataSource) {}

  list(): Promise<ClusterEntity[]> {
    return this.db.getRepository(ClusterEntity).find({ order: { name: 'ASC' } });
  }

  async isRegistered(name: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      'SELECT 1 FROM clusters WHERE name = $1 AND NOT read_only',
      [name],
    );
    return rows.length > 0;
  }

  async insertImported(row: ClusterEntity): Promise<boolean> {
    const result = await this.db
      .createQueryBuilder()
      .insert()
      .into(ClusterEntity)
      .values({ ...row, readOnly: true } as QueryDeepPartialEntity<ClusterEntity>)
      .orIgnore()
      .returning(['name'])
      .execute();
    return (result.raw as unknown[]).length > 0;
  }

  async updateImported(
    name: string,
    changes: ImportedChanges & { clusterManager?: string },
  ): Promise<boolean> {
    const sets: string[] = [];
    const params: unknown[] = [name];
    for (const [key, value] of Object.entries(changes)) {
      const c = COLUMNS[key as keyof typeof COLUMNS];
      if (!c || value === undefined) continue;
      params.push(c.json ? JSON.stringify(value) : value);
      sets.push(`${c.column} = $${params.length}`);
    }
    if (sets.length === 0) return true;
    const rows = (await this.db.query(
      `UPDATE clusters SET ${sets.join(', ')}, updated_at = now()
        WHERE name = $1 AND read_only RETURNING name`,
      params,
    )) as [unknown[], number];
    return rows[0].length > 0;
  }

  async deleteImported(name: string, namespace: string): Promise<boolean> {
    // TypeORM answers UPDATE and DELETE with [rows, count].
    const rows = (await this.db.query(
      `DELETE FROM clusters
        WHERE name = $1 AND read_only AND agent_state = 'NeverConnected' AND labels ->> $2 = $3
      RETURNING name`,
      [name, IMPORTED_FROM_LABEL, namespace],
    )) as [unknown[], number];
    return rows[0].length > 0;
  }
}
