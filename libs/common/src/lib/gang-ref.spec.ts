import { gangRefKey, splitGangRefKey } from './gang-ref';

describe('gangRefKey', () => {
  it('joins a gang id and a fencing token', () => {
    expect(gangRefKey('g-1', 7)).toBe('g-1#7');
  });

  it.each([
    ['g-1', 7],
    ['a#b', 0],
    ['', 12],
  ])('splits back into (%p, %p)', (gang, token) => {
    expect(splitGangRefKey(gangRefKey(gang, token))).toEqual([gang, token]);
  });
});
