import { boundedDetails, toServiceError } from './grpc-errors';
import { invalidArgument } from '../common/errors';

/** What grpc-js sends for a status message: percent-encoded outside printable ASCII. */
function wireSize(s: string): number {
  return [...s].reduce((n, ch) => {
    const c = ch.codePointAt(0)!;
    return n + (c >= 0x20 && c <= 0x7e && ch !== '%' ? 1 : 3 * Buffer.byteLength(ch, 'utf8'));
  }, 0);
}

describe('boundedDetails', () => {
  it('keeps an ordinary message as it is', () => {
    expect(boundedDetails('spec.queue: queue "x" not found')).toBe(
      'spec.queue: queue "x" not found',
    );
  });

  it.each([
    ['ASCII', 'a/'.repeat(75_000)],
    ['multi-byte', 'ü€😀'.repeat(20_000)],
    ['an unpaired surrogate', '\ud800x'.repeat(30_000)],
  ])(
    'cuts a message quoting %s input to fit a client trailer, saying how much is left out',
    (_, quoted) => {
      const err = invalidArgument('topology_levels[0]', `prefix "${quoted}" is too long`);
      const { details } = toServiceError(err);
      expect(wireSize(details)).toBeLessThanOrEqual(2048);
      expect(details.startsWith('topology_levels[0]: prefix "')).toBe(true);
      expect(details).toMatch(/… \(\d+ more characters\)$/);
    },
  );
});
