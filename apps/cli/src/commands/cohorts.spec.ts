import { status } from '@grpc/grpc-js';
import { InventoryServiceService, type Cohort } from '@muster/api';
import { notFound, StandInHub } from '../testing/stand-in-hub';
import { runCapturing } from '../testing/run-cli';

const run = (argv: string[]) => runCapturing(argv, { now: new Date('2025-01-01T12:05:00Z') });

const at = new Date('2025-01-01T12:00:00Z');

/** Answers the cohort calls of the inventory service from memory, recording each request. */
class StandInCohorts extends StandInHub {
  readonly cohorts = new Map<string, Cohort>();

  async start(): Promise<this> {
    const reply = this.reply.bind(this);
    return this.serve(InventoryServiceService, {
      createCohort: reply('createCohort', (req: { cohort?: Cohort }) => {
        const c = req.cohort!;
        if (this.cohorts.has(c.name))
          return {
            code: status.ALREADY_EXISTS,
            details: `cohort.name: cohort "${c.name}" already exists`,
          };
        return this.store(c, at);
      }),
      updateCohort: reply('updateCohort', (req: { cohort?: Cohort }) => {
        const old = this.cohorts.get(req.cohort!.name);
        if (!old) return notFound('cohort', req.cohort!.name);
        const chain = [req.cohort!.name];
        for (let p = req.cohort!.parent; p; p = this.cohorts.get(p)?.parent ?? '') {
          chain.push(p);
          if (p === req.cohort!.name)
            return {
              code: status.FAILED_PRECONDITION,
              details: `cohort.parent: would make a loop: ${chain.join(' → ')}`,
            };
        }
        return this.store(req.cohort!, old.createdAt!);
      }),
      getCohort: reply('getCohort', (req: { name: string }) => {
        const cohort = this.cohorts.get(req.name);
        return cohort ? { cohort } : notFound('cohort', req.name);
      }),
      listCohorts: reply('listCohorts', () => ({
        cohorts: [...this.cohorts.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      })),
      deleteCohort: reply('deleteCohort', (req: { name: string }) =>
        this.cohorts.delete(req.name) ? {} : notFound('cohort', req.name),
      ),
    });
  }

  private store(c: Cohort, createdAt: Date) {
    const cohort: Cohort = { ...c, createdAt, updatedAt: at };
    if (!c.quota) delete cohort.quota;
    this.cohorts.set(c.name, cohort);
    return { cohort };
  }
}

describe('muster cohorts, against a stand-in hub', () => {
  let hub: StandInCohorts;
  beforeAll(async () => (hub = await new StandInCohorts().start()));
  afterAll(() => hub.stop());
  beforeEach(() => {
    hub.calls.splice(0);
    hub.cohorts.clear();
  });
  const muster = (...argv: string[]) => run(['--hub', hub.address, ...argv]);
  /** What the last call sent as its cohort. */
  const sent = () => (hub.calls[hub.calls.length - 1]![1] as { cohort: Cohort }).cohort;
  const research = (c: Partial<Cohort> = {}): Cohort => ({
    name: 'research',
    parent: 'org',
    description: 'labs',
    quota: {
      nominal: { 'nvidia.com/gpu': '64' },
      borrowingLimit: { 'nvidia.com/gpu': '16' },
      lendingLimit: { cpu: '8' },
    },
    createdAt: at,
    updatedAt: at,
    queues: ['nlp', 'vision'],
    children: ['robotics'],
    ...c,
  });

  it('creates a cohort with what its flags give, lists and limits repeated or comma-separated', async () => {
    let r = await muster(
      'cohorts',
      'create',
      'research',
      '--parent',
      'org',
      '--description',
      'labs',
      '--quota',
      'nvidia.com/gpu=64',
      '--quota',
      'cpu=512,memory=2Ti',
      '--borrowing-limit',
      'nvidia.com/gpu=16',
      '--lending-limit',
      'memory=1Ti',
    );
    expect(r).toEqual({ code: 0, stdout: 'cohort research created\n', stderr: '' });
    expect(hub.calls).toEqual([
      [
        'createCohort',
        {
          cohort: {
            name: 'research',
            parent: 'org',
            description: 'labs',
            quota: {
              nominal: { 'nvidia.com/gpu': '64', cpu: '512', memory: '2Ti' },
              borrowingLimit: { 'nvidia.com/gpu': '16' },
              lendingLimit: { memory: '1Ti' },
            },
            queues: [],
            children: [],
          },
        },
      ],
    ]);
    r = await muster('cohorts', 'create', 'org', '-o', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      name: 'org',
      createdAt: at.toISOString(),
      updatedAt: at.toISOString(),
    });
    expect(sent()).toEqual({ name: 'org', parent: '', description: '', queues: [], children: [] });
    r = await muster('cohorts', 'create', 'org');
    expect([r.code, r.stderr]).toEqual([1, 'error: cohort.name: cohort "org" already exists\n']);
  });

  it.each([
    [
      ['--borrowing-limit', 'cpu=1'],
      '--borrowing-limit needs --parent: a cohort borrows only from its parent',
    ],
    [
      ['--lending-limit', 'cpu=1'],
      '--lending-limit needs --parent: a cohort lends only to its parent',
    ],
    [
      ['--parent', 'Org'],
      '--parent: "Org" must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
    ],
    [['--parent', 'research'], '--parent: cohort research cannot be its own parent'],
    [
      ['--parent', ' '],
      '--parent: needs the name of a cohort; a cohort without a parent is a root',
    ],
    [['--quota', 'nvidia.com/gpu'], '--quota: "nvidia.com/gpu" needs =QUANTITY'],
    [['--quota', 'cpu=lots'], '--quota: cpu: "lots" is not a Kubernetes quantity'],
    [
      ['--parent', 'org', '--borrowing-limit', 'cpu=1,cpu=2'],
      '--borrowing-limit: cpu is given twice (1 and 2)',
    ],
    [['--parent', 'org', '--lending-limit', 'cpu=-1'], '--lending-limit: cpu: "-1" is negative'],
  ])('create %j is refused before the hub is asked: %s', async (flags, message) => {
    const r = await muster('cohorts', 'create', 'research', ...flags);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `error: ${message}\n` });
    expect(hub.calls).toEqual([]);
  });

  it('has no --no-parent nor --no-quota on create', async () => {
    for (const flag of ['--no-parent', '--no-quota']) {
      const r = await muster('cohorts', 'create', 'research', flag);
      expect([r.code, r.stderr]).toEqual([2, expect.stringContaining(`unknown option '${flag}'`)]);
    }
  });

  it('updates by reading the cohort and replacing only what the flags give', async () => {
    hub.cohorts.set('research', research());
    let r = await muster('cohorts', 'update', 'research', '--quota', 'nvidia.com/gpu=96');
    expect(r).toEqual({ code: 0, stdout: 'cohort research updated\n', stderr: '' });
    expect(hub.calls.map(([name]) => name)).toEqual(['getCohort', 'updateCohort']);
    expect(hub.calls[0]![1]).toEqual({ name: 'research' });
    // The output-only queues and children are not sent back.
    expect(sent()).toEqual({
      name: 'research',
      parent: 'org',
      description: 'labs',
      quota: {
        nominal: { 'nvidia.com/gpu': '96' },
        borrowingLimit: { 'nvidia.com/gpu': '16' },
        lendingLimit: { cpu: '8' },
      },
      queues: [],
      children: [],
    });

    r = await muster('cohorts', 'update', 'research', '--lending-limit', '', '--parent', 'top');
    expect(r.code).toBe(0);
    expect(sent()).toMatchObject({
      parent: 'top',
      quota: { borrowingLimit: { 'nvidia.com/gpu': '16' }, lendingLimit: {} },
    });

    r = await muster('cohorts', 'update', 'research', '--description', '');
    expect(sent()).toMatchObject({ parent: 'top', description: '' });
    expect(sent().quota!.nominal).toEqual({ 'nvidia.com/gpu': '96' });
  });

  it('makes a root with --no-parent, dropping its limits, and removes the quota with --no-quota', async () => {
    hub.cohorts.set('research', research());
    let r = await muster('cohorts', 'update', 'research', '--no-parent');
    expect(r.code).toBe(0);
    expect(sent()).toMatchObject({
      parent: '',
      quota: { nominal: { 'nvidia.com/gpu': '64' }, borrowingLimit: {}, lendingLimit: {} },
    });
    r = await muster('cohorts', 'update', 'research', '--no-quota', '-o', 'json');
    expect(r.code).toBe(0);
    expect(sent().quota).toBeUndefined();
    expect(JSON.parse(r.stdout)).not.toHaveProperty('quota');
    // A quota left with no amount at all is none.
    hub.cohorts.set(
      'lender',
      research({
        name: 'lender',
        quota: { nominal: {}, borrowingLimit: {}, lendingLimit: { cpu: '1' } },
      }),
    );
    expect((await muster('cohorts', 'update', 'lender', '--lending-limit', '')).code).toBe(0);
    expect(sent().quota).toBeUndefined();
  });

  it.each([
    [
      [],
      'nothing to change; give --parent, --no-parent, --description, --quota, --borrowing-limit, --lending-limit or --no-quota',
    ],
    [
      ['--no-parent', '--parent', 'org'],
      '--no-parent makes the cohort a root; it cannot go with --parent',
    ],
    [
      ['--parent', 'org', '--no-parent'],
      '--no-parent makes the cohort a root; it cannot go with --parent',
    ],
    [['--quota', 'cpu=1', '--no-quota'], '--no-quota removes the quota; it cannot go with --quota'],
    [
      ['--no-quota', '--borrowing-limit', 'cpu=1', '--lending-limit', ''],
      '--no-quota removes the quota; it cannot go with --borrowing-limit and --lending-limit',
    ],
    [['--quota', 'cpu'], '--quota: "cpu" needs =QUANTITY'],
  ])('update %j is refused before the hub is asked: %s', async (flags, message) => {
    const r = await muster('cohorts', 'update', 'research', ...flags);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `error: ${message}\n` });
    expect(hub.calls).toEqual([]);
  });

  it('refuses limits for a cohort that has or will have no parent, saying why', async () => {
    hub.cohorts.set('org', research({ name: 'org', parent: '', quota: undefined }));
    hub.cohorts.set('research', research());
    let r = await muster('cohorts', 'update', 'org', '--borrowing-limit', 'cpu=1');
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: --borrowing-limit needs --parent: a cohort borrows only from its parent, and cohort org has none\n',
    });
    r = await muster('cohorts', 'update', 'research', '--no-parent', '--lending-limit', 'cpu=1');
    expect(r.stderr).toBe(
      'error: --lending-limit needs --parent: a cohort lends only to its parent, and --no-parent makes it a root\n',
    );
    expect(hub.calls.map(([name]) => name)).toEqual(['getCohort', 'getCohort']);
    // What only the hub can judge comes back as it said it.
    r = await muster('cohorts', 'update', 'org', '--parent', 'research');
    expect([r.code, r.stderr]).toEqual([
      1,
      'error: cohort.parent: would make a loop: org → research → org\n',
    ]);
    r = await muster('cohorts', 'update', 'nope', '--description', 'x');
    expect([r.code, r.stderr]).toEqual([3, 'error: cohort "nope" not found\n']);
  });

  it('lists cohorts: parent, own quota shortened, queues and children', async () => {
    let r = await muster('cohorts', 'list');
    expect(r).toEqual({
      code: 0,
      stdout: '',
      stderr: 'No cohorts; create one with `muster cohorts create research`.\n',
    });
    hub.cohorts.set(
      'org',
      research({ name: 'org', parent: '', quota: undefined, queues: [], children: ['research'] }),
    );
    hub.cohorts.set(
      'research',
      research({
        quota: {
          nominal: { 'nvidia.com/gpu': '64', cpu: '63500m' },
          borrowingLimit: {},
          lendingLimit: {},
        },
      }),
    );
    r = await muster('cohorts', 'list');
    expect(r).toEqual({
      code: 0,
      stdout: [
        'NAME      PARENT  QUOTA             QUEUES      CHILDREN',
        'org       -       -                 -           research',
        'research  org     gpu 64, cpu 63.5  nlp,vision  robotics',
        '',
      ].join('\n'),
      stderr: '',
    });
    r = await muster('cohorts', 'list', '-o', 'json');
    expect(JSON.parse(r.stdout).cohorts.map((c: { name: string }) => c.name)).toEqual([
      'org',
      'research',
    ]);
    expect(JSON.parse(r.stdout).cohorts[1]).toMatchObject({
      parent: 'org',
      quota: { nominal: { cpu: '63500m' } },
      queues: ['nlp', 'vision'],
    });
  });

  it('shows one cohort with full names, exact amounts and what no limit means', async () => {
    hub.cohorts.set('research', research());
    let r = await muster('cohorts', 'get', 'research');
    expect(r).toEqual({
      code: 0,
      stdout: [
        'Name:             research',
        'Parent:           org',
        'Description:      labs',
        'Quota:            nvidia.com/gpu 64',
        'Borrowing limit:  nvidia.com/gpu 16',
        'Lending limit:    cpu 8',
        'Queues:           nlp, vision',
        'Children:         robotics',
        'Created:          2025-01-01T12:00:00.000Z (5m ago)',
        'Updated:          2025-01-01T12:00:00.000Z (5m ago)',
        '',
      ].join('\n'),
      stderr: '',
    });
    hub.cohorts.set(
      'labs',
      research({
        name: 'labs',
        quota: { nominal: {}, borrowingLimit: {}, lendingLimit: {} },
        queues: [],
        children: [],
      }),
    );
    r = await muster('cohorts', 'get', 'labs');
    expect(r.stdout).toContain('Quota:            - (none of its own)\n');
    expect(r.stdout).toContain('Borrowing limit:  - (as much as the parent lends)\n');
    expect(r.stdout).toContain('Lending limit:    - (all its unused quota)\n');
    expect(r.stdout).toContain('Queues:           -\nChildren:         -\n');
    hub.cohorts.set('org', research({ name: 'org', parent: '', quota: undefined }));
    r = await muster('cohorts', 'get', 'org');
    expect(r.stdout).toContain('Parent:           - (a root)\n');
    expect(r.stdout).toContain('Borrowing limit:  -\nLending limit:    -\n');
    r = await muster('cohorts', 'get', 'org', '-o', 'yaml');
    expect(r.stdout).toContain('name: org\n');
    r = await muster('cohorts', 'get', 'nope');
    expect([r.code, r.stderr]).toEqual([3, 'error: cohort "nope" not found\n']);
  });

  it('deletes a cohort, and says so when there is none', async () => {
    hub.cohorts.set('research', research());
    let r = await muster('cohorts', 'delete', 'research');
    expect(r).toEqual({ code: 0, stdout: 'cohort research deleted\n', stderr: '' });
    expect(hub.calls).toEqual([['deleteCohort', { name: 'research' }]]);
    expect(hub.cohorts.has('research')).toBe(false);
    r = await muster('cohorts', 'delete', 'research');
    expect([r.code, r.stderr]).toEqual([3, 'error: cohort "research" not found\n']);
  });
});
