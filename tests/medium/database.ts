// One migrated throwaway database per suite, and rows the repositories expect to exist.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '../support/services';
import { createDataSource, migrate } from '../../apps/hub/src/database/data-source';
import { JobEntity } from '../../apps/hub/src/jobs/job.entity';
import type { NewEvent } from '../../apps/hub/src/jobs/jobs.repository';
import type { GangSpec } from '../../apps/hub/src/jobs/job.domain';

export interface MigratedDatabase {
  db: TestDatabase;
  dataSource: DataSource;
  close(): Promise<void>;
}

/** A new database with every hub migration applied, as a hub replica would find it. */
export async function migratedDatabase(): Promise<MigratedDatabase> {
  const db = await createTestDatabase();
  const dataSource = createDataSource(db.url);
  await dataSource.initialize();
  await migrate(dataSource);
  return {
    db,
    dataSource,
    async close() {
      await dataSource.destroy();
      await db.drop();
    },
  };
}

export async function insertQueue(db: TestDatabase, name: string, weight = 1): Promise<void> {
  await db.query('INSERT INTO queues (name, weight) VALUES ($1, $2)', [name, weight]);
}

export async function insertCluster(
  db: TestDatabase,
  name: string,
  agentState = 'Connected',
): Promise<void> {
  await db.query(
    `INSERT INTO clusters (name, cluster_manager, agent_state, last_heartbeat_at)
     VALUES ($1, 'muster', $2, now())`,
    [name, agentState],
  );
}

/** One pod set of `count` members of 1 CPU. */
export function gangOf(count: number, podSet = 'w'): GangSpec {
  return {
    podSets: [{ name: podSet, count, template: {}, requests: { cpu: '1', pods: '1' } }],
    groups: [],
  };
}

/** A Queued job and its first event, as JobsService builds them on submit. */
export function queuedJob(
  queue: string,
  gang: GangSpec,
  clientRequestId: string | null = null,
): { job: JobEntity; event: NewEvent } {
  const total = gang.podSets.reduce((n, ps) => n + ps.count, 0);
  const members = { total, pending: 0, running: 0, succeeded: 0, failed: 0, bound: 0 };
  const job = Object.assign(new JobEntity(), {
    id: randomUUID(),
    clientRequestId,
    specHash: 'hash',
    name: 'medium',
    queue,
    priority: 0,
    onClusterLost: 'wait' as const,
    namespace: 'default',
    labels: {},
    gang,
    maxRestarts: 0,
    restarts: 0,
    state: 'Queued' as const,
    reason: 'Submitted',
    message: 'waiting',
    cluster: null,
    dispatchGeneration: 0,
    members,
  });
  const event: NewEvent = {
    jobId: job.id,
    queue,
    fromState: null,
    state: 'Queued',
    reason: job.reason,
    message: job.message,
    cluster: null,
    members,
  };
  return { job, event };
}
