import { BudgetPeriod } from '@muster/api';
import { MusterError } from '../common/errors';
import { DEFAULT_TOPOLOGY_LEVELS } from './cluster.domain';
import {
  clusterChangesToDomain,
  clusterRegistrationToDomain,
  queueToDomain,
  queueToProto,
  reasonToDomain,
} from './inventory.mapper';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof MusterError) return err.field;
    throw err;
  }
  throw new Error('expected a refusal');
}

const register = {
  name: 'east',
  displayName: '',
  clusterSet: '',
  topologyLevels: [],
  accessProviders: [],
  labels: {},
};
const update = {
  name: 'east',
  topologyLevels: [],
  replaceTopologyLevels: false,
  accessProviders: [],
  replaceAccessProviders: false,
  labels: {},
  replaceLabels: false,
};

describe('clusterRegistrationToDomain', () => {
  it('fills the display name and topology levels it was not given', () => {
    expect(clusterRegistrationToDomain(register)).toEqual({
      name: 'east',
      displayName: 'east',
      clusterSet: '',
      labels: {},
      topologyLevels: DEFAULT_TOPOLOGY_LEVELS,
      accessProviders: [],
    });
  });

  it('names the field at fault', () => {
    expect(fieldOf(() => clusterRegistrationToDomain({ ...register, name: 'East' }))).toBe('name');
    expect(
      fieldOf(() => clusterRegistrationToDomain({ ...register, displayName: 'a\u0007b' })),
    ).toBe('display_name');
    expect(fieldOf(() => clusterRegistrationToDomain({ ...register, clusterSet: '-' }))).toBe(
      'cluster_set',
    );
    expect(
      fieldOf(() => clusterRegistrationToDomain({ ...register, topologyLevels: ['rack', 'rack'] })),
    ).toBe('topology_levels[1]');
    expect(
      fieldOf(() => clusterRegistrationToDomain({ ...register, labels: { 'bad key!': 'x' } })),
    ).toBe('labels["bad key!"]');
  });
});

describe('clusterChangesToDomain', () => {
  it('holds only what the request replaces', () => {
    expect(clusterChangesToDomain(update)).toEqual({});
    expect(
      clusterChangesToDomain({
        ...update,
        displayName: 'East',
        labels: { tier: 'a' },
        replaceLabels: true,
      }),
    ).toEqual({ displayName: 'East', labels: { tier: 'a' } });
    // Replacing the levels with none restores the defaults, as at registration.
    expect(clusterChangesToDomain({ ...update, replaceTopologyLevels: true })).toEqual({
      topologyLevels: DEFAULT_TOPOLOGY_LEVELS,
    });
  });

  it('checks what is replaced only', () => {
    expect(clusterChangesToDomain({ ...update, labels: { 'bad key!': 'x' } })).toEqual({});
    expect(
      fieldOf(() =>
        clusterChangesToDomain({ ...update, labels: { 'bad key!': 'x' }, replaceLabels: true }),
      ),
    ).toBe('labels["bad key!"]');
  });
});

describe('queueToDomain and reasonToDomain', () => {
  const queue = { name: 'research', description: '', weight: 0, allowedNamespaces: [] };

  it('defaults the weight and sorts the namespaces once each', () => {
    expect(queueToDomain('queue', { ...queue, allowedNamespaces: ['b', 'a', 'b'] })).toEqual({
      name: 'research',
      description: '',
      weight: 1,
      allowedNamespaces: ['a', 'b'],
      quota: null,
      budget: null,
      preemption: null,
      maxPriority: null,
    });
  });

  it('keeps a budget, counting nvidia.com/gpu when it names no resource', () => {
    const budget = { resource: '', hours: 5000, period: BudgetPeriod.BUDGET_PERIOD_MONTH };
    expect(queueToDomain('queue', { ...queue, budget }).budget).toEqual({
      resource: 'nvidia.com/gpu',
      hours: 5000,
      period: 'month',
    });
    expect(
      queueToDomain('queue', {
        ...queue,
        budget: { resource: 'amd.com/gpu', hours: 0.5, period: BudgetPeriod.BUDGET_PERIOD_WEEK },
      }).budget,
    ).toEqual({ resource: 'amd.com/gpu', hours: 0.5, period: 'week' });
  });

  it.each([
    [{ hours: 0 }, 'queue.budget.hours'],
    [{ hours: -1 }, 'queue.budget.hours'],
    [{ hours: Number.NaN }, 'queue.budget.hours'],
    [{ hours: Number.POSITIVE_INFINITY }, 'queue.budget.hours'],
    [{ hours: 1e9 + 1 }, 'queue.budget.hours'],
    [{ period: BudgetPeriod.BUDGET_PERIOD_UNSPECIFIED }, 'queue.budget.period'],
    [{ period: 42 as BudgetPeriod }, 'queue.budget.period'],
    [{ resource: 'NVIDIA GPU' }, 'queue.budget.resource'],
    [{ resource: ' nvidia.com/gpu' }, 'queue.budget.resource'],
  ])('refuses the budget %j, naming %s', (bad, field) => {
    const budget = {
      resource: 'nvidia.com/gpu',
      hours: 10,
      period: BudgetPeriod.BUDGET_PERIOD_DAY,
      ...bad,
    };
    expect(fieldOf(() => queueToDomain('queue', { ...queue, budget }))).toBe(field);
  });

  it('answers with the budget and what was used of it', () => {
    const stored = {
      name: 'nlp',
      description: '',
      weight: 1,
      allowedNamespaces: [],
      quota: null,
      budget: { resource: 'nvidia.com/gpu', hours: 5000, period: 'month' as const },
      createdAt: new Date(0),
      updatedAt: new Date(0),
    };
    const since = new Date('2026-12-01T00:00:00Z');
    const wire = queueToProto(stored, undefined, {
      usedHours: 4120,
      leftHours: 880,
      periodStart: since,
    });
    expect(wire.budget).toEqual({
      resource: 'nvidia.com/gpu',
      hours: 5000,
      period: BudgetPeriod.BUDGET_PERIOD_MONTH,
    });
    expect(wire.usage).toEqual({
      used: {},
      borrowed: {},
      available: {},
      budgetUsedHours: 4120,
      budgetLeftHours: 880,
      budgetPeriodStart: since,
      fairShare: 0,
    });
    expect(queueToProto({ ...stored, budget: null })).not.toHaveProperty('budget');
    expect(queueToProto({ ...stored, budget: null })).not.toHaveProperty('usage');
  });

  it('keeps a quota as written, limits only with a cohort', () => {
    const quota = {
      nominal: { 'nvidia.com/gpu': ' 64 ', cpu: '512' },
      cohort: 'research',
      borrowingLimit: { 'nvidia.com/gpu': '16' },
      lendingLimit: {},
    };
    expect(queueToDomain('queue', { ...queue, quota }).quota).toEqual({
      nominal: { cpu: '512', 'nvidia.com/gpu': '64' },
      cohort: 'research',
      borrowingLimit: { 'nvidia.com/gpu': '16' },
    });
    const alone = { ...quota, cohort: '', borrowingLimit: {} };
    expect(queueToDomain('queue', { ...queue, quota: alone }).quota).toEqual({
      nominal: { cpu: '512', 'nvidia.com/gpu': '64' },
    });
  });

  it('names the field at fault', () => {
    expect(fieldOf(() => queueToDomain('queue', undefined))).toBe('queue');
    expect(fieldOf(() => queueToDomain('queue', { ...queue, weight: 1001 }))).toBe('queue.weight');
    expect(
      fieldOf(() => queueToDomain('queue', { ...queue, allowedNamespaces: ['ok', 'No'] })),
    ).toBe('queue.allowed_namespaces[1]');
    const quota = (q: Record<string, unknown>) => ({
      ...queue,
      quota: {
        nominal: { 'nvidia.com/gpu': '8' },
        cohort: '',
        borrowingLimit: {},
        lendingLimit: {},
        ...q,
      },
    });
    expect(
      fieldOf(() => queueToDomain('queue', quota({ nominal: { 'nvidia.com/gpu': '-1' } }))),
    ).toBe('queue.quota.nominal["nvidia.com/gpu"]');
    expect(fieldOf(() => queueToDomain('queue', quota({ nominal: { 'bad name!': '1' } })))).toBe(
      'queue.quota.nominal["bad name!"]',
    );
    expect(
      fieldOf(() => queueToDomain('queue', quota({ lendingLimit: { 'nvidia.com/gpu': '1' } }))),
    ).toBe('queue.quota.lending_limit');
    expect(
      fieldOf(() => queueToDomain('queue', quota({ cohort: 'c', borrowingLimit: { cpu: '1' } }))),
    ).toBe('queue.quota.borrowing_limit["cpu"]');
    expect(fieldOf(() => reasonToDomain('x'.repeat(1025)))).toBe('reason');
  });
});
