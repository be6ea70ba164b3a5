import { Taint, Toleration } from './model';
import {
  firstUntoleratedTaint,
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
