import { RequiredNodeAffinity, Taint, Toleration } from './model';
import {
  firstUntoleratedTaint,
  formatNodeAffinity,
  matchesNodeAffinity,
  matchesNodeSelector,
  toleratesAll,
  toleratesTaint,
} from './scheduling';

const gpuTaint: Taint = { key: 'gpu', value: 'true', effect: 'NoSchedule' };

describe('toleratesTaint (Kubernetes semantics)', () => {
  it.each<[string, Toleration, boolean]>([
    [
      'Equal with same key/value/effect',
      { key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
      true,
    ],
    ['Equal is the default operator', { key: 'gpu', value: 'true' }, true],
    ['Equal with another value', { key: 'gpu', value: 'false' }, false],
    ['Equal with no value vs a valued taint', { key: 'gpu' }, false],
    ['Exists ignores the value', { key: 'gpu', operator: 'Exists' }, true],
    ['Exists with another key', { key: 'tpu', operator: 'Exists' }, false],
    ['empty key with Exists tolerates everything', { operator: 'Exists' }, true],
    [
      'effect must match when given',
      { key: 'gpu', operator: 'Exists', effect: 'NoExecute' },
      false,
    ],
    ['empty effect matches every effect', { key: 'gpu', operator: 'Exists' }, true],
  ])('%s', (_, toleration, expected) => {
    expect(toleratesTaint(toleration, gpuTaint)).toBe(expected);
  });
});

describe('hard taints', () => {
  it('ignores PreferNoSchedule and requires tolerations for NoSchedule and NoExecute', () => {
    const soft: Taint = { key: 'a', effect: 'PreferNoSchedule' };
    const exec: Taint = { key: 'b', value: 'x', effect: 'NoExecute' };
    expect(toleratesAll([soft], [])).toBe(true);
    expect(firstUntoleratedTaint([soft, exec, gpuTaint], [{ key: 'b', operator: 'Exists' }])).toBe(
      gpuTaint,
    );
    expect(toleratesAll([exec, gpuTaint], [{ operator: 'Exists' }])).toBe(true);
    expect(toleratesAll(undefined, undefined)).toBe(true);
  });
});

describe('matchesNodeSelector', () => {
  it('needs every selector label with the same value', () => {
    expect(matchesNodeSelector({ pool: 'a', zone: 'z1' }, { pool: 'a' })).toBe(true);
    expect(matchesNodeSelector({ pool: 'b' }, { pool: 'a' })).toBe(false);
    expect(matchesNodeSelector({}, { pool: 'a' })).toBe(false);
    expect(matchesNodeSelector(undefined, { pool: 'a' })).toBe(false);
    expect(matchesNodeSelector({ pool: 'a' }, {})).toBe(true);
    expect(matchesNodeSelector({ pool: 'a' }, { pool: 'a', zone: 'z1' })).toBe(false);
  });
});

describe('matchesNodeAffinity (required terms, Kubernetes semantics)', () => {
  const labels = { zone: 'z1', pool: 'gpu', rank: '3' };
  const one = (r: RequiredNodeAffinity['nodeSelectorTerms'][number]): RequiredNodeAffinity => ({
    nodeSelectorTerms: [r],
  });
  it.each<[string, RequiredNodeAffinity, boolean]>([
    [
      'In holds',
      one({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1', 'z2'] }] }),
      true,
    ],
    [
      'In fails',
      one({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z2'] }] }),
      false,
    ],
    [
      'In on a missing label fails',
      one({ matchExpressions: [{ key: 'x', operator: 'In', values: ['a'] }] }),
      false,
    ],
    [
      'NotIn on a missing label holds',
      one({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['a'] }] }),
      true,
    ],
    [
      'NotIn fails',
      one({ matchExpressions: [{ key: 'pool', operator: 'NotIn', values: ['gpu'] }] }),
      false,
    ],
    ['Exists', one({ matchExpressions: [{ key: 'pool', operator: 'Exists' }] }), true],
    ['DoesNotExist', one({ matchExpressions: [{ key: 'pool', operator: 'DoesNotExist' }] }), false],
    [
      'Gt compares integers',
      one({ matchExpressions: [{ key: 'rank', operator: 'Gt', values: ['2'] }] }),
      true,
    ],
    [
      'Lt compares integers',
      one({ matchExpressions: [{ key: 'rank', operator: 'Lt', values: ['3'] }] }),
      false,
    ],
    [
      'Gt on a non-integer label fails',
      one({ matchExpressions: [{ key: 'zone', operator: 'Gt', values: ['0'] }] }),
      false,
    ],
    [
      'matchFields metadata.name In',
      one({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }),
      true,
    ],
    [
      'matchFields metadata.name NotIn',
      one({ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n1'] }] }),
      false,
    ],
    [
      'requirements of a term are ANDed',
      one({
        matchExpressions: [
          { key: 'pool', operator: 'Exists' },
          { key: 'zone', operator: 'In', values: ['z9'] },
        ],
      }),
      false,
    ],
    [
      'terms are ORed',
      {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z9'] }] },
          { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
        ],
      },
      true,
    ],
    ['an empty term matches nothing', one({}), false],
    ['no terms match nothing', { nodeSelectorTerms: [] }, false],
  ])('%s', (_, affinity, expected) => {
    expect(matchesNodeAffinity('n1', labels, affinity)).toBe(expected);
  });

  it('allows every node without affinity, and formats terms for explanations', () => {
    expect(matchesNodeAffinity('n1', labels, undefined)).toBe(true);
    expect(
      formatNodeAffinity({
        nodeSelectorTerms: [
          { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1', 'z2'] }] },
          { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] },
        ],
      }),
    ).toBe('zone In (z1,z2) or gpu Exists');
  });
});
