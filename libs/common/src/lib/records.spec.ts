import { isRecord } from './records';

describe('isRecord', () => {
  it.each([
    [{}, true],
    [{ a: 1 }, true],
    [null, false],
    [[], false],
    ['x', false],
    [1, false],
    [undefined, false],
  ])('%p is a record: %p', (v, want) => {
    expect(isRecord(v)).toBe(want);
  });
});
