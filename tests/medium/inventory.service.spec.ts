// InventoryService's rules against a real Postgres, without a hub process: registering and
// changing clusters, what read-only and busy ones refuse, and queues.
import { createLog } from '@muster/log';
import { ErrorCode, MusterError } from '../../apps/hub/src/common/errors';
import type { ClusterRegistration } from '../../apps/hub/src/inventory/cluster.domain';
import { InventoryRepository } from '../../apps/hub/src/inventory/inventory.repository';
import {
  InventoryService,
  type ManualFencing,
} from '../../apps/hub/src/inventory/inventory.service';
import { JobsRepository } from '../../apps/hub/src/jobs/jobs.repository';
import { UsageRepository } from '../../apps/hub/src/scheduling/usage.repository';
import { gangOf, migratedDatabase, queuedJob, type MigratedDatabase } from './database';

let m: MigratedDatabase;
let inventory: InventoryService;
const fenced: { name: string; reason: string; by: string }[] = [];

const log = createLog({ level: 'error', destination: { write: () => undefined } });

function registration(name: string): ClusterRegistration {
  return {
    name,
    displayName: name.toUpperCase(),
    clusterSet: 'gpus',
    labels: { tier: 'a' },
    topologyLevels: ['kubernetes.io/hostname'],
    accessProviders: [],
  };
}

async function refusal(p: Promise<unknown>): Promise<MusterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MusterError)) throw new Error(`expected a MusterError, got ${String(err)}`);
  return err;
}

beforeAll(async () => {
  m = await migratedDatabase();
  const fencing: ManualFencing = {
    fenceCluster: async (name, reason, by) => {
      fenced.push({ name, reason, by });
      return [];
    },
  };
  inventory = new InventoryService(
    new InventoryRepository(m.dataSource),
    fencing,
    { drainCluster: () => Promise.resolve([]) },
    log,
    new UsageRepository(m.dataSource, { retentionDays: 90 }),
  );
});
afterAll(() => m.close());

describe('InventoryService clusters', () => {
  it('registers a cluster once, as Muster’s, never connected', async () => {
    const c = await inventory.registerCluster(registration('east'));
    expect(c).toMatchObject({ clusterManager: 'muster', agentState: 'NeverConnected' });
    expect(await inventory.getCluster('east')).toMatchObject({
      displayName: 'EAST',
      labels: { tier: 'a' },
      cordoned: false,
    });
    const again = await refusal(inventory.registerCluster(registration('east')));
    expect([again.code, again.field]).toEqual([ErrorCode.AlreadyExists, 'name']);
  });

  it('changes only the fields given and keeps the rest', async () => {
    await inventory.registerCluster(registration('west'));
    const changed = await inventory.updateCluster('west', { labels: { tier: 'b' } });
    expect(changed.labels).toEqual({ tier: 'b' });
    const stored = await inventory.getCluster('west');
    expect(stored).toMatchObject({
      labels: { tier: 'b' },
      displayName: 'WEST',
      clusterSet: 'gpus',
      topologyLevels: ['kubernetes.io/hostname'],
    });
    expect(stored.updatedAt.getTime()).toBeGreaterThanOrEqual(stored.createdAt.getTime());
  });

  it('leaves a cluster imported from another manager to that manager', async () => {
    await inventory.registerCluster(registration('imported'));
    await m.db.query(
      `UPDATE clusters SET read_only = true, cluster_manager = 'ocm' WHERE name = 'imported'`,
    );
    for (const attempt of [
      () => inventory.updateCluster('imported', { labels: {} }),
      () => inventory.deregisterCluster('imported'),
    ]) {
      const err = await refusal(attempt());
      expect(err.code).toBe(ErrorCode.FailedPrecondition);
      expect(err.message).toBe('cluster "imported" is managed by "ocm"; change it there');
    }
    expect((await inventory.getCluster('imported')).labels).toEqual({ tier: 'a' });
  });

  it('cordons and uncordons, and is idempotent', async () => {
    await inventory.registerCluster(registration('cordoned'));
    expect((await inventory.setCordoned('cordoned', true, 'upgrade')).cordoned).toBe(true);
    expect((await inventory.setCordoned('cordoned', true)).cordoned).toBe(true);
    expect((await inventory.getCluster('cordoned')).cordoned).toBe(true);
    expect((await inventory.setCordoned('cordoned', false)).cordoned).toBe(false);
    expect((await refusal(inventory.setCordoned('nowhere', true))).code).toBe(ErrorCode.NotFound);
  });

  it('fences only a Lost cluster by hand, and says who did', async () => {
    await inventory.registerCluster(registration('lost'));
    const early = await refusal(inventory.fenceCluster('lost', 'gone', 'root'));
    expect(early.code).toBe(ErrorCode.FailedPrecondition);
    expect(early.message).toMatch(/^cluster "lost" is NeverConnected, not Lost/);
    expect(fenced).toEqual([]);
    await m.db.query(`UPDATE clusters SET agent_state = 'Lost' WHERE name = 'lost'`);
    await inventory.fenceCluster('lost', 'powered off', 'root');
    expect(fenced).toEqual([{ name: 'lost', reason: 'powered off', by: 'root' }]);
  });

  it('keeps a cluster that still holds a gang registered', async () => {
    await inventory.registerCluster(registration('busy'));
    await inventory.createQueue({
      name: 'busy-q',
      description: '',
      weight: 1,
      allowedNamespaces: [],
    });
    const { job, event } = queuedJob('busy-q', gangOf(1));
    await new JobsRepository(m.dataSource).insertOrGetExisting(job, event);
    await m.db.query(`UPDATE jobs SET state = 'Running', cluster = 'busy' WHERE id = $1`, [job.id]);
    expect((await refusal(inventory.deregisterCluster('busy'))).code).toBe(
      ErrorCode.FailedPrecondition,
    );
    await m.db.query(`UPDATE jobs SET state = 'Succeeded' WHERE id = $1`, [job.id]);
    await inventory.deregisterCluster('busy');
    expect((await refusal(inventory.getCluster('busy'))).code).toBe(ErrorCode.NotFound);
  });
});

describe('InventoryService queues', () => {
  it('creates a queue once and updates its settings, keeping when it was made', async () => {
    const created = await inventory.createQueue({
      name: 'research',
      description: 'first',
      weight: 1,
      allowedNamespaces: [],
    });
    const dup = await refusal(
      inventory.createQueue({
        name: 'research',
        description: '',
        weight: 1,
        allowedNamespaces: [],
      }),
    );
    expect([dup.code, dup.field]).toEqual([ErrorCode.AlreadyExists, 'queue.name']);
    const updated = await inventory.updateQueue({
      name: 'research',
      description: 'second',
      weight: 3,
      allowedNamespaces: ['team-a'],
    });
    expect(updated.createdAt).toEqual(created.createdAt);
    expect(await inventory.getQueue('research')).toMatchObject({
      description: 'second',
      weight: 3,
      allowedNamespaces: ['team-a'],
    });
    expect((await refusal(inventory.updateQueue({ ...updated, name: 'nowhere' }))).code).toBe(
      ErrorCode.NotFound,
    );
  });

  it('keeps a budget until an update replaces or drops it, and reports what was used', async () => {
    const budget = { resource: 'nvidia.com/gpu', hours: 5000, period: 'month' as const };
    const settings = { name: 'budgeted', description: '', weight: 1, allowedNamespaces: [] };
    await inventory.createQueue({ ...settings, budget });
    expect((await inventory.getQueue('budgeted')).budget).toEqual(budget);
    const now = new Date();
    const hourAgo = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 3_600_000);
    // 2 GPUs for an hour of this period, when the hour before now is in it.
    const inPeriod = hourAgo >= new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    await m.db.query(`INSERT INTO queue_usage VALUES ('budgeted', $1, 'nvidia.com/gpu', $2)`, [
      hourAgo,
      2 * 1000 * 3600,
    ]);
    const standing = (await inventory.budgetStandings(await inventory.listQueues(), now)).get(
      'budgeted',
    );
    expect(standing).toEqual({
      usedHours: inPeriod ? 2 : 0,
      leftHours: inPeriod ? 4998 : 5000,
      periodStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
    });
    const weekly = { resource: 'amd.com/gpu', hours: 10, period: 'week' as const };
    await inventory.updateQueue({ ...settings, budget: weekly });
    expect((await inventory.getQueue('budgeted')).budget).toEqual(weekly);
    await inventory.updateQueue({ ...settings, budget: null });
    expect((await inventory.getQueue('budgeted')).budget).toBeNull();
    expect((await inventory.budgetStandings(await inventory.listQueues(), now)).size).toBe(0);
  });

  it('deletes a queue only when none of its jobs is unfinished', async () => {
    await inventory.createQueue({
      name: 'doomed',
      description: '',
      weight: 1,
      allowedNamespaces: [],
    });
    const { job, event } = queuedJob('doomed', gangOf(1));
    await new JobsRepository(m.dataSource).insertOrGetExisting(job, event);
    expect((await refusal(inventory.deleteQueue('doomed'))).code).toBe(
      ErrorCode.FailedPrecondition,
    );
    await m.db.query(`UPDATE jobs SET state = 'Cancelled' WHERE id = $1`, [job.id]);
    await inventory.deleteQueue('doomed');
    expect((await refusal(inventory.getQueue('doomed'))).code).toBe(ErrorCode.NotFound);
    expect((await refusal(inventory.deleteQueue('doomed'))).code).toBe(ErrorCode.NotFound);
  });
});
