import fc from 'fast-check';
import { compareRatios } from './score';

describe('compareRatios', () => {
  it('orders exactly like cross-multiplication, also for huge and nearly equal values', () => {
    const big = fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n });
    const den = fc.bigInt({ min: 1n, max: 10n ** 24n });
    fc.assert(
      fc.property(big, den, big, den, fc.bigInt({ min: -3n, max: 3n }), (a, b, c, d, nudge) => {
        // Most cases compare a/b with a value a hair away from it (the exact fallback path).
        const [n2, d2] = nudge === 0n ? [c, d] : [a * 10n ** 20n + nudge, b * 10n ** 20n];
        const exact = a * d2 < n2 * b ? -1 : a * d2 > n2 * b ? 1 : 0;
        const r = (num: bigint, dd: bigint) => ({ num, den: dd, approx: Number(num) / Number(dd) });
        expect(compareRatios(r(a, b), r(n2, d2))).toBe(exact);
      }),
      { numRuns: 500 },
    );
  });
});
