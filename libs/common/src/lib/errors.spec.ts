import { errorText } from './errors';

describe('errorText', () => {
  it.each([
    [new Error('first\nsecond'), 'first'],
    [new Error('plain'), 'plain'],
    ['a string', 'a string'],
    [42, '42'],
  ])('describes %p as %p', (err, text) => {
    expect(errorText(err)).toBe(text);
  });
});
