import { DataSource } from 'typeorm';
import { JobEntity } from '../jobs/job.entity';
import { JobEventEntity } from '../jobs/job-event.entity';
import { ClusterEntity } from '../inventory/cluster.entity';
import { QueueEntity } from '../inventory/queue.entity';
import { CohortEntity } from '../inventory/cohort.entity';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';
import { Dispatch1764000001000 } from './migrations/1764000001000-dispatch';
import { ClusterExclusions1764000002000 } from './migrations/1764000002000-cluster-exclusions';
import { GangListGeneration1764000003000 } from './migrations/1764000003000-gang-list-generation';
import { SchedulerLeader1764000004000 } from './migrations/1764000004000-scheduler-leader';
import { GangRestarts1764000005000 } from './migrations/1764000005000-gang-restarts';
import { AwaitingFence1764000006000 } from './migrations/1764000006000-awaiting-fence';
import { QueuedPerQueue1764000007000 } from './migrations/1764000007000-queued-per-queue';
import { ListIndexes1764000008000 } from './migrations/1764000008000-list-indexes';
import { DeviceClasses1764000009000 } from './migrations/1764000009000-device-classes';
import { QueueQuota1764000010000 } from './migrations/1764000010000-queue-quota';
import { Evictions1764000011000 } from './migrations/1764000011000-evictions';
import { QueueUsage1764000012000 } from './migrations/1764000012000-queue-usage';
import { Cohorts1764000013000 } from './migrations/1764000013000-cohorts';
import { FrontDoor1764000014000 } from './migrations/1764000014000-front-door';
import { Utilisation1764000015000 } from './migrations/1764000015000-utilisation';
import { MIGRATIONS_LOCK } from './advisory-locks';

export const ENTITIES = [JobEntity, JobEventEntity, ClusterEntity, QueueEntity, CohortEntity];
export const MIGRATIONS = [
  InitialSchema1764000000000,
  Dispatch1764000001000,
  ClusterExclusions1764000002000,
  GangListGeneration1764000003000,
  SchedulerLeader1764000004000,
  GangRestarts1764000005000,
  AwaitingFence1764000006000,
  QueuedPerQueue1764000007000,
  ListIndexes1764000008000,
  DeviceClasses1764000009000,
  QueueQuota1764000010000,
  Evictions1764000011000,
  QueueUsage1764000012000,
  Cohorts1764000013000,
  FrontDoor1764000014000,
  Utilisation1764000015000,
];

export function createDataSource(url: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'muster_migrations',
    synchronize: false,
    extra: { max: 10, application_name: 'muster-hub' },
  });
}

/** Applies pending migrations once even when several replicas start together. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATIONS_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATIONS_LOCK]).catch(() => undefined);
    await runner.release();
  }
}
