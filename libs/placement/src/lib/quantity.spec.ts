import fc from 'fast-check';
import { formatQuantity, MAX_QUANTITY_MILLI, parseQuantity } from './quantity';

describe('parseQuantity', () => {
  it.each<[string | number, bigint]>([
    ['500m', 500n],
    ['1.5Gi', 1610612736000n],
    ['2e3', 2_000_000n],
    ['10k', 10_000_000n],
    ['1Ki', 1_024_000n],
    ['100M', 100_000_000_000n],
    ['4', 4000n],
    [4, 4000n],
    [0.1, 100n],
    ['0', 0n],
    ['-0', 0n],
    ['+3', 3000n],
    ['.5', 500n],
    ['5.', 5000n],
    ['1E', 10n ** 21n],
    ['1E3', 1_000_000n],
    ['1e-3', 1n],
    ['1.5e+2', 150_000n],
    ['2T', 2n * 10n ** 15n],
    ['1Mi', 1_048_576_000n],
    ['7Ei', 7n * 2n ** 60n * 1000n],
    ['007', 7000n],
  ])('%p is %p milli-units', (text, milli) => {
    expect(parseQuantity(text)).toEqual({ ok: true, value: milli });
  });

  it.each<[string, bigint]>([
    ['1n', 1n],
    ['1u', 1n],
    ['999u', 1n],
    ['1001u', 2n],
    ['1.0001m', 2n],
    ['0.0000001', 1n],
  ])('rounds sub-milli %p up to %p milli (as Kubernetes MilliValue does)', (text, milli) => {
    expect(parseQuantity(text)).toEqual({ ok: true, value: milli });
  });

  it('has no floating-point drift: ten times 0.1 is exactly 1', () => {
    const tenth = parseQuantity('0.1');
    expect(tenth.ok && tenth.value * 10n).toBe(1000n);
    const sum = Array.from({ length: 3 }, () => parseQuantity('0.1')).reduce(
      (s, r) => s + (r.ok ? r.value : 0n),
      0n,
    );
    expect(sum).toBe(300n); // 0.1 + 0.1 + 0.1 !== 0.3 in floating point
  });

  it.each([
    '',
    ' 1',
    '1 ',
    'abc',
    '1.5.2',
    '12 GB',
    '12GB',
    '1e',
    'Ki',
    '1KB',
    '1ki',
    '1mi',
    '--1',
    '.',
    'e3',
    '1e3.5',
    'x'.repeat(100),
  ])('rejects %p as InvalidQuantity', (text) => {
    const r = parseQuantity(text, 'requests["memory"]');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('InvalidQuantity');
      expect(r.error.field).toBe('requests["memory"]');
    }
  });

  it.each([NaN, Infinity, -Infinity])('rejects the number %p', (n) => {
    const r = parseQuantity(n);
    expect(r.ok === false && r.error.code).toBe('InvalidQuantity');
  });

  it.each(['-1', '-500m', '-0.001'])('rejects negative %p', (text) => {
    const r = parseQuantity(text);
    expect(r.ok === false && r.error.code).toBe('NegativeQuantity');
  });

  it.each(['8Ei', '1e1001', '10E', '9223372036854775808'])('rejects out-of-range %p', (text) => {
    const r = parseQuantity(text);
    expect(r.ok === false && r.error.code).toBe('QuantityOutOfRange');
  });

  it('accepts the largest int64 amount', () => {
    expect(parseQuantity('9223372036854775807')).toEqual({ ok: true, value: MAX_QUANTITY_MILLI });
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.double(),
          fc.stringMatching(/^[+-]?[0-9.]{0,6}([eE][+-]?[0-9]{0,4}|[KMGTPE]i?|[munk])?$/),
        ),
        (input) => {
          const r = parseQuantity(input);
          expect(typeof r.ok).toBe('boolean');
          if (r.ok) expect(r.value >= 0n).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('formatQuantity', () => {
  it.each<[bigint, string, string]>([
    [500n, 'cpu', '500m'],
    [2000n, 'cpu', '2'],
    [16000n, 'nvidia.com/gpu', '16'],
    [2n ** 40n * 1000n, 'memory', '1Ti'],
    [1536n * 2n ** 20n * 1000n, 'memory', '1536Mi'],
    [1000n, 'memory', '1'],
    [1_000_000n, 'nvidia.com/gpu', '1000'],
    [0n, 'memory', '0'],
    [-1500n, 'cpu', '-1500m'],
  ])('%p of %s is %p', (milli, resource, text) => {
    expect(formatQuantity(milli, resource)).toBe(text);
  });

  it('round-trips exactly through parseQuantity', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_QUANTITY_MILLI }),
        fc.constantFrom('cpu', 'memory', 'nvidia.com/gpu', 'hugepages-2Mi'),
        (milli, resource) => {
          expect(parseQuantity(formatQuantity(milli, resource))).toEqual({
            ok: true,
            value: milli,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
