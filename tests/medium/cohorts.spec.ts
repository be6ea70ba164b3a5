// Cohorts against a real Postgres, without a hub process: what the table holds (the scheduler
// reads it with SQL), the tree rule (no loop, at most 16 levels) judged on the stored rows, and
// two concurrent updates that would make a loop together.
import { createLog } from '@muster/log';
import { ErrorCode, MusterError } from '../../apps/hub/src/common/errors';
import type { CohortSettings } from '../../apps/hub/src/inventory/cluster.domain';
import { MAX_COHORT_DEPTH } from '../../apps/hub/src/inventory/cohort-chain';
import { InventoryRepository } from '../../apps/hub/src/inventory/inventory.repository';
import { InventoryService } from '../../apps/hub/src/inventory/inventory.service';
import { UsageRepository } from '../../apps/hub/src/scheduling/usage.repository';
import { eventually } from '../support/eventually';
import { migratedDatabase, type MigratedDatabase } from './database';

let m: MigratedDatabase;
let repo: InventoryRepository;
let inventory: InventoryService;

const log = createLog({ level: 'error', destination: { write: () => undefined } });

async function refusal(p: Promise<unknown>): Promise<MusterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MusterError)) throw new Error(`expected a MusterError, got ${String(err)}`);
  return err;
}

const cohort = (name: string, parent: string | null = null, quota = null): CohortSettings => ({
  name,
  parent,
  description: '',
  quota,
});

/** Every stored cohort's parent, by name. */
async function parents(): Promise<Map<string, string | null>> {
  const rows = await m.db.query<{ name: string; parent: string | null }>(
    'SELECT name, parent FROM cohorts',
  );
  return new Map(rows.map((r) => [r.name, r.parent]));
}

/** A cohort whose stored parent chain comes back to it, if any. */
function loopIn(stored: Map<string, string | null>): string | undefined {
  for (const start of stored.keys()) {
    const seen = new Set<string>();
    for (let at: string | null | undefined = start; at; at = stored.get(at)) {
      if (seen.has(at)) return start;
      seen.add(at);
    }
  }
  return undefined;
}

beforeAll(async () => {
  m = await migratedDatabase();
  repo = new InventoryRepository(m.dataSource);
  inventory = new InventoryService(
    repo,
    { fenceCluster: () => Promise.resolve([]) },
    { drainCluster: () => Promise.resolve([]) },
    log,
    new UsageRepository(m.dataSource, { retentionDays: 90 }),
  );
});
afterAll(() => m.close());
beforeEach(async () => {
  await m.db.query('DELETE FROM cohorts');
  await m.db.query('DELETE FROM queues');
});

describe('cohorts in Postgres', () => {
  it('stores the row the scheduler reads, and lists by name', async () => {
    await inventory.createCohort(cohort('org'));
    const created = await inventory.createCohort({
      name: 'research',
      parent: 'org',
      description: 'labs',
      quota: {
        nominal: { 'nvidia.com/gpu': '64' },
        borrowingLimit: { 'nvidia.com/gpu': '16' },
      },
    });
    const rows = await m.db.query(
      'SELECT name, parent, description, quota, created_at, updated_at FROM cohorts ORDER BY name',
    );
    expect(rows).toEqual([
      {
        name: 'org',
        parent: null,
        description: '',
        quota: null,
        created_at: expect.any(Date),
        updated_at: expect.any(Date),
      },
      {
        name: 'research',
        parent: 'org',
        description: 'labs',
        quota: { nominal: { 'nvidia.com/gpu': '64' }, borrowingLimit: { 'nvidia.com/gpu': '16' } },
        created_at: created.createdAt,
        updated_at: created.updatedAt,
      },
    ]);
    await inventory.createCohort(cohort('alpha'));
    expect((await repo.listCohorts()).map((c) => c.name)).toEqual(['alpha', 'org', 'research']);
    expect(await inventory.getCohort('research')).toEqual(created);
    // A cohort may not be its own parent, even past the hub's own checks.
    await expect(
      m.db.query(`INSERT INTO cohorts (name, parent) VALUES ('self', 'self')`),
    ).rejects.toThrow(/check constraint/);
  });

  it('creates once, updates by replacing, deletes whatever names it', async () => {
    const created = await inventory.createCohort(cohort('org'));
    const dup = await refusal(inventory.createCohort(cohort('org')));
    expect([dup.code, dup.field]).toEqual([ErrorCode.AlreadyExists, 'cohort.name']);
    expect(dup.message).toBe('cohort.name: cohort "org" already exists');

    await inventory.createCohort({
      ...cohort('research', 'org'),
      description: 'labs',
      quota: { nominal: { cpu: '8' }, lendingLimit: { cpu: '4' } },
    });
    // Left out of an update: removed.
    const updated = await inventory.updateCohort({ name: 'research', description: '' });
    expect(updated).toMatchObject({ parent: null, quota: null, description: '' });
    expect(await inventory.getCohort('research')).toMatchObject({ parent: null, quota: null });
    expect((await inventory.getCohort('org')).createdAt).toEqual(created.createdAt);

    for (const missing of [
      () => inventory.getCohort('nowhere'),
      () => inventory.updateCohort(cohort('nowhere')),
      () => inventory.deleteCohort('nowhere'),
    ]) {
      const err = await refusal(missing());
      expect([err.code, err.message]).toEqual([ErrorCode.NotFound, 'cohort "nowhere" not found']);
    }

    // Members and children stay, naming a cohort that is now implicit.
    await inventory.updateCohort(cohort('research', 'org'));
    await inventory.createQueue({
      name: 'nlp',
      description: '',
      weight: 1,
      allowedNamespaces: [],
      quota: { nominal: { cpu: '1' }, cohort: 'org' },
    });
    expect(await inventory.cohortMembers(['org', 'research'])).toEqual(
      new Map([
        ['org', { queues: ['nlp'], children: ['research'] }],
        ['research', { queues: [], children: [] }],
      ]),
    );
    await inventory.deleteCohort('org');
    expect(await parents()).toEqual(new Map([['research', 'org']]));
    expect((await inventory.getQueue('nlp')).quota?.cohort).toBe('org');
  });

  it('refuses a parent chain that loops, naming it, and stores nothing', async () => {
    await inventory.createCohort(cohort('a'));
    await inventory.createCohort(cohort('b', 'a'));
    await inventory.createCohort(cohort('c', 'b'));
    const before = await parents();
    let err = await refusal(inventory.updateCohort(cohort('a', 'c')));
    expect([err.code, err.field, err.message]).toEqual([
      ErrorCode.FailedPrecondition,
      'cohort.parent',
      'cohort.parent: would make a loop: a → c → b → a',
    ]);
    // A cohort that others name as parent before it exists: created under its own child.
    await inventory.createCohort(cohort('child', 'top'));
    err = await refusal(inventory.createCohort(cohort('top', 'child')));
    expect([err.code, err.message]).toEqual([
      ErrorCode.FailedPrecondition,
      'cohort.parent: would make a loop: top → child → top',
    ]);
    expect(await parents()).toEqual(new Map([...before, ['child', 'top']]));
  });

  it(`refuses a tree more than ${MAX_COHORT_DEPTH} levels deep, above or below the cohort`, async () => {
    for (let i = 1; i <= MAX_COHORT_DEPTH; i++)
      await inventory.createCohort(cohort(`l${i}`, i === 1 ? null : `l${i - 1}`));
    let err = await refusal(inventory.createCohort(cohort('l17', `l${MAX_COHORT_DEPTH}`)));
    expect([err.code, err.field]).toEqual([ErrorCode.FailedPrecondition, 'cohort.parent']);
    expect(err.message).toMatch(
      /^cohort\.parent: would make a cohort tree 17 levels deep, more than 16: l1 → l2 → .* → l16 → l17$/,
    );
    // Putting the root of the 16 under another cohort deepens everything below it.
    await inventory.createCohort(cohort('above'));
    err = await refusal(inventory.updateCohort(cohort('l1', 'above')));
    expect(err.message).toMatch(/^cohort\.parent: would make a cohort tree 17 levels deep/);
    expect((await inventory.getCohort('l1')).parent).toBeNull();
    expect((await parents()).has('l17')).toBe(false);
  });

  it('lets only one of two concurrent updates that would loop together through', async () => {
    for (let round = 0; round < 3; round++) {
      const [a, b] = [`a${round}`, `b${round}`];
      await inventory.createCohort(cohort(a));
      await inventory.createCohort(cohort(b));
      // Hold both rows, so that each update has read the tree before either may write: two
      // updates that checked without excluding each other would then both pass.
      await m.db.query('BEGIN');
      await m.db.query('SELECT name FROM cohorts WHERE name = ANY($1) FOR UPDATE', [[a, b]]);
      const outcomes = Promise.allSettled([
        inventory.updateCohort(cohort(a, b)),
        inventory.updateCohort(cohort(b, a)),
      ]);
      await eventually('both updates wait for a lock', async () => {
        const [row] = await m.dataSource.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return (row as { n: number }).n === 2 || undefined;
      });
      await m.db.query('COMMIT');
      const settled = await outcomes;
      expect(settled.map((s) => s.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = settled.find((s) => s.status === 'rejected')!.reason as MusterError;
      expect([refused.code, refused.field]).toEqual([
        ErrorCode.FailedPrecondition,
        'cohort.parent',
      ]);
      expect(refused.message).toMatch(/would make a loop: (a\d → b\d → a\d|b\d → a\d → b\d)$/);
      expect(loopIn(await parents())).toBeUndefined();
    }
  });

  it('never stores a loop, however many updates race', async () => {
    const names = ['p', 'q', 'r', 's', 't', 'u'];
    for (const n of names) await inventory.createCohort(cohort(n));
    let seed = 7;
    const pick = () => names[(seed = (seed * 48271) % 2147483647) % names.length]!;
    for (let round = 0; round < 5; round++) {
      const updates = Array.from({ length: 12 }, () => {
        const name = pick();
        let parent: string | null = pick();
        if (parent === name) parent = null;
        return inventory.updateCohort(cohort(name, parent));
      });
      for (const s of await Promise.allSettled(updates)) {
        if (s.status === 'rejected')
          expect((s.reason as MusterError).message).toMatch(/^cohort\.parent: would make a loop/);
      }
      expect(loopIn(await parents())).toBeUndefined();
    }
  });
});
