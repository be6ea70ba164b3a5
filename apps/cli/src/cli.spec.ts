import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notFound, StandInHub } from './testing/stand-in-hub';
import { BudgetPeriod, InventoryServiceService, PreemptionPolicy, type Queue } from '@muster/api';
import { parseBudget, parseBudgetFlags } from './commands/queue-budget';
import {
  mergeQuota,
  parseQuotaFlags,
  parseResourceList,
  queueUpdate,
  type QueueSettingsFlags,
  type QuotaFlags,
} from './commands/queue-quota';
import { UsageError } from './errors';
import { runCapturing } from './testing/run-cli';

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => runCapturing(argv, { env });

describe('runCli', () => {
  const bad = join(mkdtempSync(join(tmpdir(), 'muster-cli-spec-')), 'job.yaml');
  writeFileSync(
    bad,
    'apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\nspec: {parallelism: four, template: {spec: {containers: [{name: c, image: i}]}}}\n',
  );

  it('prints one error line and exit code 2 for a bad manifest, with no stack trace', async () => {
    const r = await run(['submit', '-f', bad]);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: ${bad}: line 4: spec.parallelism: must be a positive integer (got "four")\n`,
    });
  });

  it('adds the stack trace when MUSTER_DEBUG=1', async () => {
    const r = await run(['submit', '-f', bad], { MUSTER_DEBUG: '1' });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      `error: ${bad}: line 4: spec.parallelism: must be a positive integer (got "four")`,
    );
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('treats help as success and usage mistakes as exit code 2', async () => {
    expect((await run(['--help'])).code).toBe(0);
    expect((await run(['list', '--limit', '-1'])).code).toBe(2);
    expect((await run(['list', '--limit', '-1'])).stderr).toContain(
      "error: option '--limit <n>' argument '-1' is invalid. must be an integer from 0 to 2147483647.",
    );
  });

  it('shows in a dry run what each member claims through DRA', async () => {
    const example = join(__dirname, '../examples/dra-job.yaml');
    const r = await run(['submit', '-f', example, '--dry-run']);
    expect(r).toEqual({
      code: 0,
      stdout: [
        `${example} (document 2): Job → job "llm-eval" in queue default, 2 members`,
        '  main × 2  (each cpu 4, memory 16Gi)',
        '    claim gpu: template one-a100, one claim per member',
        '      request gpu: 1 × gpu.example.com',
        '        where device.attributes["gpu.example.com"].model == "A100"',
        '',
      ].join('\n'),
      stderr: 'dry run: nothing was submitted\n',
    });
    const json = JSON.parse(
      (await run(['submit', '-f', example, '--dry-run', '-o', 'json'])).stdout,
    );
    expect(json.resourceClaimTemplates[0].name).toBe('one-a100');
  });

  describe('a gang whose claimed devices all share one attribute', () => {
    const dir = mkdtempSync(join(tmpdir(), 'muster-cli-spec-'));
    function nvlinkFile(name: string, annotation: string, claims = true): string {
      const file = join(dir, name);
      writeFileSync(
        file,
        [
          'apiVersion: resource.k8s.io/v1',
          'kind: ResourceClaimTemplate',
          'metadata: {name: eight-h100}',
          'spec:',
          '  spec:',
          '    devices:',
          '      requests:',
          '        - {name: gpu, exactly: {deviceClassName: gpu.example.com, count: 8}}',
          '---',
          'apiVersion: batch/v1',
          'kind: Job',
          'metadata:',
          '  name: nvl',
          '  annotations:',
          `    muster.dev/match-device-attribute: ${annotation}`,
          'spec:',
          '  parallelism: 2',
          '  template:',
          '    spec:',
          claims
            ? '      resourceClaims: [{name: gpus, resourceClaimTemplateName: eight-h100}]'
            : '',
          '      containers:',
          claims
            ? '        - {name: c, image: i, resources: {claims: [{name: gpus}]}}'
            : '        - {name: c, image: i}',
          '',
        ].join('\n'),
      );
      return file;
    }

    it('says so in a dry run, before the pod sets, and sends it in the JobSpec', async () => {
      const file = nvlinkFile('nvl.yaml', 'gpu.example.com/interconnect');
      const r = await run(['submit', '-f', file, '--dry-run']);
      expect(r).toEqual({
        code: 0,
        stdout: [
          `${file} (document 2): Job → job "nvl" in queue default, 2 members`,
          '  devices: every claimed device shares gpu.example.com/interconnect (across members)',
          '  main × 2  (each no requests)',
          '    claim gpus: template eight-h100, one claim per member',
          '      request gpu: 8 × gpu.example.com',
          '',
        ].join('\n'),
        stderr: 'dry run: nothing was submitted\n',
      });
      const json = JSON.parse(
        (await run(['submit', '-f', file, '--dry-run', '-o', 'json'])).stdout,
      );
      expect(json.matchDeviceAttribute).toBe('gpu.example.com/interconnect');
    });

    it('refuses a bad attribute name with the annotation and its line', async () => {
      const file = nvlinkFile('bad.yaml', 'interconnect');
      expect(await run(['submit', '-f', file, '--dry-run'])).toEqual({
        code: 2,
        stdout: '',
        stderr: `error: ${file} (document 2): line 15: metadata.annotations["muster.dev/match-device-attribute"]: must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect (got "interconnect")\n`,
      });
    });
  });

  it('refuses a job naming a template the file lacks, with the field and its line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'muster-cli-spec-')), 'dra.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: batch/v1',
        'kind: Job',
        'metadata: {name: a}',
        'spec:',
        '  template:',
        '    spec:',
        '      resourceClaims:',
        '        - {name: gpu, resourceClaimTemplateName: one-gpu}',
        '      containers: [{name: c, image: i}]',
        '',
      ].join('\n'),
    );
    const r = await run(['submit', '-f', file, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${file}: line 8: spec.template.spec.resourceClaims[0].resourceClaimTemplateName: no ResourceClaimTemplate named "one-gpu" in the manifests (there are none); add a resource.k8s.io/v1 ResourceClaimTemplate document of that name to the manifests\n`,
    );
  });

  it('sends --priority-class, or the Kueue label, and shows it in a dry run', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'muster-cli-spec-')), 'job.yaml');
    writeFileSync(
      file,
      'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: a\n  labels: {kueue.x-k8s.io/priority-class: low}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n',
    );
    const r = await run(['submit', '-f', file, '--dry-run']);
    expect(r.stdout).toBe(
      `${file}: Job → job "a" in queue default, 1 members\n  priority class: low\n  main × 1  (each no requests)\n`,
    );
    const json = JSON.parse(
      (await run(['submit', '-f', file, '--dry-run', '-o', 'json', '--priority-class', 'high']))
        .stdout,
    );
    // The hub sets the priority from the class; the CLI sends the default 0 (left out of JSON).
    expect(json.priorityClass).toBe('high');
    expect(json).not.toHaveProperty('priority');
    expect(await run(['submit', '-f', file, '--dry-run', '--priority-class', 'High'])).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: ${file}: --priority-class: must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (got "High")\n`,
    });
  });

  it('refuses --name for a file of several documents', async () => {
    const two = join(mkdtempSync(join(tmpdir(), 'muster-cli-spec-')), 'two.yaml');
    writeFileSync(two, 'kind: Job\n---\nkind: Job\n');
    const r = await run(['submit', '-f', two, '--name', 'x']);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: --name names one job, but the manifests hold 2 jobs; drop --name or split them\n',
    });
  });
});

describe('queue quota flags', () => {
  const refused = async (argv: string[]) => {
    const r = await run(argv);
    expect([r.code, r.stdout]).toEqual([2, '']);
    return r.stderr;
  };

  it.each([
    [['--quota', 'nvidia.com/gpu'], '--quota: "nvidia.com/gpu" needs =QUANTITY'],
    [['--quota', 'cpu=8,nvidia.com/gpu'], '--quota: "nvidia.com/gpu" needs =QUANTITY'],
    [['--quota', '=64'], '--quota: "=64" needs a resource name before ='],
    [['--quota', 'cpu='], '--quota: "cpu=" needs a quantity after ='],
    [
      ['--quota', ''],
      '--quota: needs RESOURCE=QUANTITY[,RESOURCE=QUANTITY...], e.g. --quota nvidia.com/gpu=64,cpu=512',
    ],
    [
      ['--quota', 'cpu=8,'],
      '--quota: empty entry in "cpu=8,"; separate RESOURCE=QUANTITY entries with single commas',
    ],
    [
      ['--quota', 'NVIDIA GPU=8'],
      '--quota: "NVIDIA GPU" is not a resource name (such as cpu, memory or nvidia.com/gpu, or SET:nvidia.com/gpu for one cluster set)',
    ],
    [
      ['--quota', 'East:nvidia.com/gpu=8'],
      '--quota: cluster set "East" must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
    ],
    [
      ['--quota', 'east:nvidia gpu=8'],
      '--quota: "nvidia gpu" is not a resource name (such as cpu, memory or nvidia.com/gpu)',
    ],
    [
      ['--quota', 'nvidia.com/gpu=lots'],
      '--quota: nvidia.com/gpu: "lots" is not a Kubernetes quantity',
    ],
    [['--quota', 'cpu=-2'], '--quota: cpu: "-2" is negative'],
    [['--quota', 'cpu=1e30'], '--quota: cpu: "1e30" is too large'],
    [
      ['--quota', 'nvidia.com/gpu=64', '--quota', 'nvidia.com/gpu=32'],
      '--quota: nvidia.com/gpu is given twice (64 and 32)',
    ],
    [['--quota', 'cpu=8', '--borrowing-limit', 'cpu'], '--borrowing-limit: "cpu" needs =QUANTITY'],
    [
      ['--quota', 'cpu=8', '--lending-limit', 'cpu=x'],
      '--lending-limit: cpu: "x" is not a Kubernetes quantity',
    ],
    [
      ['--quota', 'cpu=8', '--cohort', 'Research'],
      '--cohort: "Research" must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
    ],
    [
      ['--cohort', 'research'],
      '--cohort needs a quota; add --quota RESOURCE=QUANTITY, e.g. --quota nvidia.com/gpu=64,cpu=512',
    ],
    [
      ['--borrowing-limit', 'cpu=1'],
      '--borrowing-limit needs a quota; add --quota RESOURCE=QUANTITY, e.g. --quota nvidia.com/gpu=64,cpu=512',
    ],
    [
      ['--cohort', 'research', '--borrowing-limit', 'cpu=1', '--lending-limit', 'cpu=1'],
      '--cohort, --borrowing-limit and --lending-limit need a quota; add --quota RESOURCE=QUANTITY, e.g. --quota nvidia.com/gpu=64,cpu=512',
    ],
    [
      ['--quota', 'cpu=8', '--borrowing-limit', 'cpu=1'],
      '--borrowing-limit needs --cohort: a queue borrows only from the queues of its cohort',
    ],
    [
      ['--quota', 'cpu=8', '--lending-limit', 'cpu=1'],
      '--lending-limit needs --cohort: a queue lends only to the queues of its cohort',
    ],
    [
      [
        '--quota',
        'nvidia.com/gpu=8',
        '--cohort',
        'research',
        '--borrowing-limit',
        'cpu=1,memory=1Gi',
      ],
      '--borrowing-limit: names cpu, memory, which the quota does not (it names nvidia.com/gpu); a resource the quota does not name is not limited',
    ],
  ])('create %j: %s', async (flags, message) => {
    expect(await refused(['queues', 'create', 'nlp', ...flags])).toBe(`error: ${message}\n`);
  });

  it('has no --no-max-priority on create, and refuses a --max-priority out of int32', async () => {
    expect(await refused(['queues', 'create', 'nlp', '--no-max-priority'])).toContain(
      "error: unknown option '--no-max-priority'",
    );
    expect(await refused(['queues', 'create', 'nlp', '--max-priority', '2147483648'])).toContain(
      "error: option '--max-priority <n>' argument '2147483648' is invalid. must be an integer from -2147483648 to 2147483647.\n",
    );
    expect(await refused(['queues', 'update', 'nlp', '--max-priority', 'high'])).toContain(
      "error: option '--max-priority <n>' argument 'high' is invalid.",
    );
  });

  it('has no --no-quota on create', async () => {
    expect(await refused(['queues', 'create', 'nlp', '--no-quota'])).toContain(
      "error: unknown option '--no-quota'",
    );
  });

  it.each([
    [
      [],
      'nothing to change; give --description, --weight, --allowed-namespace, --max-priority, --no-max-priority, --quota, --cohort, --borrowing-limit, --lending-limit, --no-quota, --budget, --no-budget, --preempt-within-queue or --reclaim-within-cohort',
    ],
    [['--quota', 'gpu'], '--quota: "gpu" needs =QUANTITY'],
    [
      ['--preempt-within-queue', 'any'],
      '--preempt-within-queue: must be one of never, lower-priority (got "any")',
    ],
    [
      ['--reclaim-within-cohort', 'always'],
      '--reclaim-within-cohort: must be one of never, lower-priority, any (got "always")',
    ],
    [
      ['--no-budget', '--budget', 'gpu-hours=1/day'],
      '--no-budget removes the budget; it cannot go with --budget',
    ],
    [
      ['--budget', 'gpu-hours=1/day', '--no-budget'],
      '--no-budget removes the budget; it cannot go with --budget',
    ],
    [
      ['--budget', 'gpu-hours=0/day'],
      '--budget: "0" is not a number of hours above 0 and at most 1000000000',
    ],
    [
      ['--no-max-priority', '--max-priority', '10'],
      '--no-max-priority removes the bound; it cannot go with --max-priority',
    ],
    [
      ['--max-priority', '10', '--no-max-priority'],
      '--no-max-priority removes the bound; it cannot go with --max-priority',
    ],
    [['--no-quota', '--quota', 'cpu=1'], '--no-quota removes the quota; it cannot go with --quota'],
    [['--quota', 'cpu=1', '--no-quota'], '--no-quota removes the quota; it cannot go with --quota'],
    [
      ['--no-quota', '--cohort', 'research', '--lending-limit', 'cpu=1'],
      '--no-quota removes the quota; it cannot go with --cohort and --lending-limit',
    ],
  ])('update %j: %s', async (flags, message) => {
    expect(await refused(['queues', 'update', 'nlp', ...flags])).toBe(`error: ${message}\n`);
  });

  it('reads k=v lists repeated or comma-separated, trimmed, with exact quantity strings', () => {
    expect(
      parseResourceList('--quota', [
        'nvidia.com/gpu=64, cpu=512',
        'memory = 2Ti',
        'cpu-milli=500m',
      ]),
    ).toEqual({ 'nvidia.com/gpu': '64', cpu: '512', memory: '2Ti', 'cpu-milli': '500m' });
    expect(parseResourceList('--lending-limit', [''], true)).toEqual({});
    // Names that are also properties of every object are resources like any other.
    expect(parseResourceList('--quota', ['constructor=1,toString=2'])).toEqual({
      constructor: '1',
      toString: '2',
    });
    expect(() =>
      mergeQuota(
        undefined,
        parseQuotaFlags({ quota: ['cpu=1'], cohort: 'c', lendingLimit: ['constructor=1'] }),
      ),
    ).toThrow('--lending-limit: names constructor, which the quota does not');
    expect(
      parseQuotaFlags({ quota: ['cpu=8'], cohort: ' research ', borrowingLimit: [''] }),
    ).toEqual({ remove: false, nominal: { cpu: '8' }, cohort: 'research', borrowingLimit: {} });
    expect(parseQuotaFlags({ quota: false })).toEqual({ remove: true });
    expect(parseQuotaFlags({}, { noQuota: true })).toEqual({ remove: true });
    expect(parseQuotaFlags({})).toEqual({ remove: false });
  });

  it('builds the quota of a new queue', () => {
    expect(mergeQuota(undefined, parseQuotaFlags({}))).toBeUndefined();
    expect(
      mergeQuota(
        undefined,
        parseQuotaFlags({
          quota: ['nvidia.com/gpu=16'],
          cohort: 'research',
          borrowingLimit: ['nvidia.com/gpu=8'],
        }),
      ),
    ).toEqual({
      nominal: { 'nvidia.com/gpu': '16' },
      cohort: 'research',
      borrowingLimit: { 'nvidia.com/gpu': '8' },
      lendingLimit: {},
    });
  });

  describe('an update', () => {
    const current: Queue = {
      name: 'nlp',
      description: 'NLP team',
      weight: 2,
      allowedNamespaces: ['default', 'ml'],
      createdAt: new Date('2025-01-01T00:00:00Z'),
      updatedAt: new Date('2025-01-01T00:00:00Z'),
      quota: {
        nominal: { 'nvidia.com/gpu': '16', cpu: '512' },
        cohort: 'research',
        borrowingLimit: { 'nvidia.com/gpu': '8', cpu: '64' },
        lendingLimit: { 'nvidia.com/gpu': '4' },
      },
      budget: { resource: 'nvidia.com/gpu', hours: 5000, period: BudgetPeriod.BUDGET_PERIOD_MONTH },
      usage: {
        used: { cpu: '1' },
        borrowed: {},
        available: {},
        budgetUsedHours: 12,
        budgetLeftHours: 4988,
        fairShare: 0,
      },
    };
    const settings = {
      name: 'nlp',
      description: 'NLP team',
      weight: 2,
      allowedNamespaces: ['default', 'ml'],
    };
    const update = (flags: QueueSettingsFlags & QuotaFlags, noQuota = false, queue = current) =>
      queueUpdate(queue, flags, parseQuotaFlags(flags, { noQuota }));

    it('keeps what no flag names, and sends no output-only fields', () => {
      expect(update({ weight: 5 })).toEqual({
        ...settings,
        weight: 5,
        quota: current.quota,
        budget: current.budget,
      });
      expect(update({ description: '', allowedNamespace: ['ml'] })).toEqual({
        ...settings,
        description: '',
        allowedNamespaces: ['ml'],
        quota: current.quota,
        budget: current.budget,
      });
    });

    it('sets preemption rules flag by flag, keeping the one not named', () => {
      const within = update({ preemptWithinQueue: 'lower-priority' });
      expect(within.preemption).toEqual({
        withinQueue: PreemptionPolicy.PREEMPTION_POLICY_LOWER_PRIORITY,
        reclaimWithinCohort: PreemptionPolicy.PREEMPTION_POLICY_NEVER,
      });
      expect(update({ reclaimWithinCohort: 'ANY' }, false, within).preemption).toEqual({
        withinQueue: PreemptionPolicy.PREEMPTION_POLICY_LOWER_PRIORITY,
        reclaimWithinCohort: PreemptionPolicy.PREEMPTION_POLICY_ANY,
      });
      // An update naming neither keeps them.
      expect(update({ weight: 3 }, false, within).preemption).toEqual(within.preemption);
    });

    it('replaces the budget with --budget and removes it with --no-budget', () => {
      const withBudget = (budget: ReturnType<typeof parseBudgetFlags>) =>
        queueUpdate(current, {}, parseQuotaFlags({}), budget);
      expect(withBudget(parseBudgetFlags({ budget: 'amd.com/gpu-hours=100/week' })).budget).toEqual(
        { resource: 'amd.com/gpu', hours: 100, period: BudgetPeriod.BUDGET_PERIOD_WEEK },
      );
      expect(withBudget(parseBudgetFlags({ budget: false }))).not.toHaveProperty('budget');
      expect(withBudget(parseBudgetFlags({}, { noBudget: true }))).not.toHaveProperty('budget');
      expect(withBudget(parseBudgetFlags({})).budget).toEqual(current.budget);
    });

    it('keeps the max priority unless --max-priority replaces it or --no-max-priority removes it', () => {
      const bounded: Queue = { ...current, maxPriority: 100 };
      expect(update({ weight: 3 }, false, bounded).maxPriority).toBe(100);
      expect(update({ maxPriority: -5 }, false, bounded).maxPriority).toBe(-5);
      expect(update({ maxPriority: 0 }).maxPriority).toBe(0);
      expect(update({ maxPriority: false }, false, bounded)).not.toHaveProperty('maxPriority');
      expect(update({ weight: 3 })).not.toHaveProperty('maxPriority');
    });

    it('replaces the nominal quota, keeping the limits on resources it still names', () => {
      expect(update({ quota: ['nvidia.com/gpu=32'] }).quota).toEqual({
        nominal: { 'nvidia.com/gpu': '32' },
        cohort: 'research',
        borrowingLimit: { 'nvidia.com/gpu': '8' },
        lendingLimit: { 'nvidia.com/gpu': '4' },
      });
    });

    it('takes resources scoped to a cluster set and DRA device classes as any other', () => {
      const dra = 'gpu.nvidia.com.deviceclass.resource.k8s.io/devices';
      expect(
        update({
          quota: [`nvidia.com/gpu=32,east:nvidia.com/gpu=8,${dra}=16`],
          borrowingLimit: ['east:nvidia.com/gpu=2'],
        }).quota,
      ).toEqual({
        nominal: { 'nvidia.com/gpu': '32', 'east:nvidia.com/gpu': '8', [dra]: '16' },
        cohort: 'research',
        borrowingLimit: { 'east:nvidia.com/gpu': '2' },
        lendingLimit: { 'nvidia.com/gpu': '4' },
      });
    });

    it('replaces a limit as a whole, or removes it with ""', () => {
      expect(update({ borrowingLimit: ['cpu=32'], lendingLimit: [''] }).quota).toEqual({
        ...current.quota,
        borrowingLimit: { cpu: '32' },
        lendingLimit: {},
      });
    });

    it('moves to another cohort with its limits, or leaves the cohort and its limits', () => {
      expect(update({ cohort: 'vision' }).quota).toEqual({ ...current.quota, cohort: 'vision' });
      expect(update({ cohort: '' }).quota).toEqual({
        nominal: current.quota!.nominal,
        cohort: '',
        borrowingLimit: {},
        lendingLimit: {},
      });
      expect(() => update({ cohort: '', lendingLimit: ['cpu=1'] })).toThrow(
        new UsageError(
          '--lending-limit needs --cohort: a queue lends only to the queues of its cohort',
        ),
      );
    });

    it('removes the quota with --no-quota', () => {
      expect(update({ quota: false }, true)).toEqual({ ...settings, budget: current.budget });
    });

    it('gives a queue without a quota one, or refuses quota parts it cannot have', () => {
      const bare: Queue = { ...current, quota: undefined, usage: undefined };
      expect(update({ quota: ['cpu=8'] }, false, bare).quota).toEqual({
        nominal: { cpu: '8' },
        cohort: '',
        borrowingLimit: {},
        lendingLimit: {},
      });
      expect(() => update({ cohort: 'research' }, false, bare)).toThrow(
        new UsageError(
          '--cohort needs a quota, and queue nlp has none; add --quota RESOURCE=QUANTITY, e.g. --quota nvidia.com/gpu=64,cpu=512',
        ),
      );
      const alone: Queue = {
        ...bare,
        quota: { ...current.quota!, cohort: '', borrowingLimit: {}, lendingLimit: {} },
      };
      expect(() => update({ borrowingLimit: ['cpu=1'] }, false, alone)).toThrow(
        new UsageError(
          '--borrowing-limit needs --cohort: a queue borrows only from the queues of its cohort, and queue nlp is in none',
        ),
      );
      expect(() => update({ lendingLimit: ['memory=1Gi'] })).toThrow(
        new UsageError(
          '--lending-limit: names memory, which the quota does not (it names nvidia.com/gpu, cpu); a resource the quota does not name is not limited',
        ),
      );
    });
  });
});

describe('queue budget flags', () => {
  it.each([
    ['gpu-hours=5000/month', 'nvidia.com/gpu', 5000, BudgetPeriod.BUDGET_PERIOD_MONTH],
    ['nvidia.com/gpu-hours=0.5/day', 'nvidia.com/gpu', 0.5, BudgetPeriod.BUDGET_PERIOD_DAY],
    [' amd.com/gpu-hours=100/week ', 'amd.com/gpu', 100, BudgetPeriod.BUDGET_PERIOD_WEEK],
    ['example.com/tpu-v5-hours=12/day', 'example.com/tpu-v5', 12, BudgetPeriod.BUDGET_PERIOD_DAY],
  ])('reads %j', (value, resource, hours, period) => {
    expect(parseBudget('--budget', value)).toEqual({ resource, hours, period });
  });

  it.each([
    [
      'gpu=5000/month',
      '--budget: "gpu=5000/month" must be RESOURCE-hours=N/PERIOD (PERIOD: day, week or month), e.g. --budget gpu-hours=5000/month',
    ],
    [
      '-hours=5/day',
      '--budget: "-hours=5/day" needs a resource before -hours, RESOURCE-hours=N/PERIOD (PERIOD: day, week or month), e.g. --budget gpu-hours=5000/month',
    ],
    [
      'GPU X-hours=5/day',
      '--budget: "GPU X" is not a resource name (such as gpu, nvidia.com/gpu or amd.com/gpu)',
    ],
    [
      'gpu-hours=5000',
      '--budget: "gpu-hours=5000" needs one /PERIOD after the hours, RESOURCE-hours=N/PERIOD (PERIOD: day, week or month), e.g. --budget gpu-hours=5000/month',
    ],
    [
      'gpu-hours=5/month/x',
      '--budget: "gpu-hours=5/month/x" needs one /PERIOD after the hours, RESOURCE-hours=N/PERIOD (PERIOD: day, week or month), e.g. --budget gpu-hours=5000/month',
    ],
    [
      'gpu-hours=lots/month',
      '--budget: "lots" is not a number of hours above 0 and at most 1000000000',
    ],
    [
      'gpu-hours=-5/month',
      '--budget: "-5" is not a number of hours above 0 and at most 1000000000',
    ],
    [
      'gpu-hours=1e3/month',
      '--budget: "1e3" is not a number of hours above 0 and at most 1000000000',
    ],
    [
      'gpu-hours=2000000000/month',
      '--budget: "2000000000" is not a number of hours above 0 and at most 1000000000',
    ],
    ['gpu-hours=5/year', '--budget: "year" is not a period; use day, week or month'],
    ['gpu-hours=5/constructor', '--budget: "constructor" is not a period; use day, week or month'],
  ])('create --budget %j: %s', async (value, message) => {
    const r = await run(['queues', 'create', 'nlp', '--budget', value]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `error: ${message}\n` });
  });

  it('has no --no-budget on create', async () => {
    const r = await run(['queues', 'create', 'nlp', '--no-budget']);
    expect([r.code, r.stderr]).toEqual([
      2,
      expect.stringContaining("unknown option '--no-budget'"),
    ]);
  });
});

/** Answers the queue calls of the inventory service from memory, recording each request. */
class StandInInventory extends StandInHub {
  readonly queues = new Map<string, Queue>();

  async start(): Promise<this> {
    const reply = this.reply.bind(this);
    return this.serve(InventoryServiceService, {
      createQueue: reply('createQueue', (req: { queue?: Queue }) => {
        const queue = { ...req.queue!, weight: req.queue!.weight || 1, createdAt: new Date() };
        this.queues.set(queue.name, queue);
        return { queue };
      }),
      getQueue: reply('getQueue', (req: { name: string }) => {
        const queue = this.queues.get(req.name);
        return queue ? { queue } : notFound('queue', req.name);
      }),
      updateQueue: reply('updateQueue', (req: { queue?: Queue }) => {
        const old = this.queues.get(req.queue!.name);
        if (!old) return notFound('queue', req.queue!.name);
        const queue = { ...req.queue!, createdAt: old.createdAt, usage: old.usage };
        if (!req.queue!.quota) delete queue.quota;
        if (!req.queue!.budget) delete queue.budget;
        if (req.queue!.maxPriority === undefined) delete queue.maxPriority;
        this.queues.set(queue.name, queue);
        return { queue };
      }),
      listQueues: reply('listQueues', () => ({ queues: [...this.queues.values()] })),
    });
  }
}

describe('queues with a quota, against a stand-in hub', () => {
  let hub: StandInInventory;
  beforeAll(async () => (hub = await new StandInInventory().start()));
  afterAll(() => hub.stop());
  const muster = (...argv: string[]) => run(['--hub', hub.address, ...argv]);

  it('creates, reads before updating, updates, lists and shows', async () => {
    let r = await muster(
      'queues',
      'create',
      'nlp',
      '--quota',
      'nvidia.com/gpu=16',
      '--quota',
      'cpu=512,memory=2Ti',
      '--cohort',
      'research',
      '--borrowing-limit',
      'nvidia.com/gpu=8',
    );
    expect(r).toEqual({ code: 0, stdout: 'queue nlp created\n', stderr: '' });
    expect(hub.calls.pop()).toEqual([
      'createQueue',
      expect.objectContaining({
        queue: expect.objectContaining({
          name: 'nlp',
          quota: {
            nominal: { 'nvidia.com/gpu': '16', cpu: '512', memory: '2Ti' },
            cohort: 'research',
            borrowingLimit: { 'nvidia.com/gpu': '8' },
            lendingLimit: {},
          },
        }),
      }),
    ]);
    expect((await muster('queues', 'create', 'scratch')).code).toBe(0);
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.quota).toBeUndefined();
    hub.queues.get('nlp')!.usage = {
      used: { 'nvidia.com/gpu': '20', cpu: '63500m', memory: '0' },
      borrowed: { 'nvidia.com/gpu': '4' },
      available: { 'nvidia.com/gpu': '4', cpu: '448500m', memory: '2Ti' },
      budgetUsedHours: 0,
      budgetLeftHours: 0,
      fairShare: 0,
    };

    r = await muster('queues', 'update', 'nlp', '--quota', 'nvidia.com/gpu=32', '--weight', '3');
    expect(r).toEqual({ code: 0, stdout: 'queue nlp updated\n', stderr: '' });
    expect(hub.calls.splice(0)).toEqual([
      ['getQueue', { name: 'nlp' }],
      [
        'updateQueue',
        {
          queue: expect.objectContaining({
            name: 'nlp',
            weight: 3,
            quota: {
              nominal: { 'nvidia.com/gpu': '32' },
              cohort: 'research',
              borrowingLimit: { 'nvidia.com/gpu': '8' },
              lendingLimit: {},
            },
          }),
        },
      ],
    ]);

    r = await muster('queues', 'list');
    expect(r.stdout.split('\n')[0]).toMatch(
      /^NAME\s+WEIGHT\s+NAMESPACES\s+COHORT\s+QUOTA\s+USED\s+BORROWED\s+FAIR SHARE\s+BUDGET\s+AGE\s+DESCRIPTION$/,
    );
    expect(r.stdout).toMatch(
      /\nnlp\s+3\s+default\s+research\s+gpu 32\s+gpu 20, cpu 63.5\s+gpu 4\s+/,
    );
    expect(r.stdout).toMatch(/\nscratch\s+1\s+default\s+-\s+-\s+-\s+-\s+-\s+/);

    r = await muster('queues', 'get', 'nlp');
    expect(r.stdout).toContain('Quota:            nvidia.com/gpu 32\n');
    expect(r.stdout).toContain('Borrowing limit:  nvidia.com/gpu 8\n');
    expect(r.stdout).toContain('Available:        nvidia.com/gpu 4, cpu 448500m, memory 2Ti\n');

    r = await muster('queues', 'update', 'nlp', '--no-quota', '-o', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).not.toHaveProperty('quota');
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.quota).toBeUndefined();
    hub.calls.splice(0);

    r = await muster('queues', 'update', 'scratch', '--cohort', 'research');
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: --cohort needs a quota, and queue scratch has none; add --quota RESOURCE=QUANTITY, e.g. --quota nvidia.com/gpu=64,cpu=512\n',
    });
    expect(hub.calls.splice(0).map(([name]) => name)).toEqual(['getQueue']);

    r = await muster('queues', 'update', 'nope', '--weight', '2');
    expect([r.code, r.stderr]).toEqual([3, 'error: queue "nope" not found\n']);
  });

  it('creates with a max priority, shows it, keeps it on other changes, replaces and removes it', async () => {
    let r = await muster('queues', 'create', 'urgent', '--max-priority', '1000');
    expect(r).toEqual({ code: 0, stdout: 'queue urgent created\n', stderr: '' });
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.maxPriority).toBe(1000);
    r = await muster('queues', 'get', 'urgent');
    expect(r.stdout).toContain('Max priority:     1000\n');

    hub.calls.splice(0);
    expect((await muster('queues', 'update', 'urgent', '--weight', '2')).code).toBe(0);
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.maxPriority).toBe(1000);
    expect((await muster('queues', 'update', 'urgent', '--max-priority', '-10')).code).toBe(0);
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.maxPriority).toBe(-10);
    expect((await muster('queues', 'update', 'urgent', '--no-max-priority')).code).toBe(0);
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.maxPriority).toBeUndefined();
    r = await muster('queues', 'get', 'urgent');
    expect(r.stdout).toContain('Max priority:     - (not bounded)\n');
  });

  it('creates with a budget, shows it, keeps it on other changes, replaces and removes it', async () => {
    let r = await muster('queues', 'create', 'budgeted', '--budget', 'gpu-hours=5000/month');
    expect(r).toEqual({ code: 0, stdout: 'queue budgeted created\n', stderr: '' });
    const month = {
      resource: 'nvidia.com/gpu',
      hours: 5000,
      period: BudgetPeriod.BUDGET_PERIOD_MONTH,
    };
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.budget).toEqual(month);
    hub.queues.get('budgeted')!.usage = {
      used: {},
      borrowed: {},
      available: {},
      budgetUsedHours: 4120,
      budgetLeftHours: 880,
      budgetPeriodStart: new Date('2024-12-01T00:00:00Z'),
      fairShare: 0,
    };
    r = await muster('queues', 'list');
    expect(r.stdout).toMatch(
      /\nbudgeted\s+1\s+default\s+-\s+-\s+-\s+-\s+-\s+4120\/5000 h\/month\s+/,
    );
    r = await muster('queues', 'get', 'budgeted');
    expect(r.stdout).toContain('Budget:           5000 nvidia.com/gpu-hours per month\n');
    expect(r.stdout).toContain('Budget used:      4120 h\n');
    expect(r.stdout).toContain('Budget left:      880 h\n');
    expect(r.stdout).toContain('Period start:     2024-12-01T00:00:00.000Z\n');

    hub.calls.splice(0);
    expect((await muster('queues', 'update', 'budgeted', '--weight', '2')).code).toBe(0);
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.budget).toEqual(month);
    r = await muster('queues', 'update', 'budgeted', '--budget', 'amd.com/gpu-hours=100/week');
    expect(r.code).toBe(0);
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.budget).toEqual({
      resource: 'amd.com/gpu',
      hours: 100,
      period: BudgetPeriod.BUDGET_PERIOD_WEEK,
    });
    r = await muster('queues', 'update', 'budgeted', '--no-budget');
    expect(r.code).toBe(0);
    expect((hub.calls.pop()![1] as { queue: Queue }).queue.budget).toBeUndefined();
    expect(hub.queues.get('budgeted')!.budget).toBeUndefined();
  });
});
