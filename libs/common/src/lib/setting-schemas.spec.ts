import type { z } from 'zod';
import { choice, flag, integer, list } from './setting-schemas';

/** The messages of a failed parse, or the value of a good one. */
function parse(schema: z.ZodType, raw: unknown): unknown {
  const r = schema.safeParse(raw);
  return r.success ? r.data : r.error.issues.map((i) => ({ path: i.path, message: i.message }));
}

describe('integer', () => {
  it('reads a decimal string as a number', () => {
    expect(parse(integer(1), '42')).toBe(42);
    expect(parse(integer(0, 65535), '0')).toBe(0);
  });

  it.each([
    [integer(10), '5', 'must be an integer of at least 10 (got "5")'],
    [integer(10), 'ten', 'must be an integer of at least 10 (got "ten")'],
    [integer(1), '1.5', 'must be an integer of at least 1 (got "1.5")'],
    [integer(0, 65535), '65536', 'must be an integer from 0 to 65535 (got "65536")'],
    [integer(0, 65535), '-1', 'must be an integer from 0 to 65535 (got "-1")'],
  ])('refuses %#: %p with one message naming the bound', (schema, raw, message) => {
    expect(parse(schema, raw)).toEqual([{ path: [], message }]);
  });
});

describe('choice', () => {
  const level = choice(['debug', 'info', 'warn']);

  it('takes one of the values', () => {
    expect(parse(level, 'info')).toBe('info');
  });

  it('lists the values when given another', () => {
    expect(parse(level, 'loud')).toEqual([
      { path: [], message: 'must be debug, info or warn (got "loud")' },
    ]);
  });
});

describe('list', () => {
  it('trims the items and drops empty ones', () => {
    expect(parse(list(), ' a , b,,c ')).toEqual(['a', 'b', 'c']);
  });

  it('names each bad item by its index', () => {
    const short = list((item) => (item.length > 3 ? `"${item}" is too long` : undefined));
    expect(parse(short, 'ab,abcd,x,wxyz')).toEqual([
      { path: [1], message: '"abcd" is too long' },
      { path: [3], message: '"wxyz" is too long' },
    ]);
  });
});

describe('flag', () => {
  it.each([
    ['true', true],
    ['yes', true],
    ['1', true],
    ['false', false],
    ['no', false],
    ['0', false],
  ])('reads %p as %p', (raw, want) => {
    expect(parse(flag(), raw)).toBe(want);
  });

  it('refuses anything else', () => {
    expect(parse(flag(), 'maybe')).toEqual([
      { path: [], message: 'must be true or false (got "maybe")' },
    ]);
  });
});
