import fc from 'fast-check';
import { JobServiceService, SubmitJobRequest } from '@muster/api';
import { Metadata } from '@grpc/grpc-js';
import { ErrorCode, MusterError } from '../common/errors';
import { asciiMetadataValue, toServiceError } from './grpc-errors';
import { isUndecodable, tolerantDecoding, unstorableInput } from './hostile-input';

describe('tolerantDecoding', () => {
  const submit = tolerantDecoding(JobServiceService).submitJob;

  it('decodes good bytes as before and marks bad ones instead of throwing (property)', () => {
    const good = SubmitJobRequest.encode({ clientRequestId: 'x', spec: undefined }).finish();
    expect(submit.requestDeserialize(Buffer.from(good))).toEqual({
      clientRequestId: 'x',
      spec: undefined,
    });
    expect(isUndecodable(submit.requestDeserialize(Buffer.from([0x0f, 0xff])))).toBe(true);
    // Random bytes rarely decode, so well-formed encodings (whole or cut short) are mixed in.
    const encoded = fc
      .record({ clientRequestId: fc.string(), cut: fc.nat() })
      .map(({ clientRequestId, cut }) => {
        const whole = SubmitJobRequest.encode({ clientRequestId, spec: undefined }).finish();
        return whole.subarray(0, cut % 2 === 0 ? whole.length : cut % (whole.length + 1));
      });
    const seen = { decoded: 0, undecodable: 0 };
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), encoded), (bytes) => {
        const r = submit.requestDeserialize(Buffer.from(bytes));
        let expected: SubmitJobRequest;
        try {
          expected = SubmitJobRequest.decode(bytes);
        } catch {
          seen.undecodable++;
          expect(isUndecodable(r)).toBe(true);
          return;
        }
        seen.decoded++;
        expect(r).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
    expect(seen.decoded).toBeGreaterThan(300);
    expect(seen.undecodable).toBeGreaterThan(300);
  });
});

describe('unstorableInput', () => {
  it('names the first field with a NUL character, in snake_case', () => {
    expect(
      unstorableInput({ spec: { podSets: [{ name: 'ok' }, { name: 'a\u0000' }] } })?.message,
    ).toBe('spec.pod_sets[1].name: must not contain NUL characters');
    expect(unstorableInput({ labels: { 'k\u0000': 'v' } })?.message).toBe(
      'labels: map key must not contain NUL characters',
    );
    // A decoded proto string cannot hold an unpaired surrogate, but the check holds for any request.
    expect(unstorableInput({ labels: { 'k\udc00': 'v' } })?.message).toMatch(/map key .*surrogate/);
    expect(unstorableInput({ name: 'fine', data: Buffer.from([0]), at: new Date() })).toBe(
      undefined,
    );
  });

  it('looks inside *_json fields for NUL, unpaired surrogates and absurd nesting', () => {
    const deep = '['.repeat(100) + ']'.repeat(100);
    expect(unstorableInput({ podTemplateJson: deep })?.message).toBe(
      'pod_template_json: is nested deeper than 64 levels',
    );
    expect(unstorableInput({ extensionJson: '{"a":"\\u0000"}' })?.message).toMatch(/NUL/);
    expect(unstorableInput({ extensionJson: '["\\ud800"]' })?.message).toBe(
      'extension_json: must be valid Unicode (it has an unpaired surrogate)',
    );
    expect(unstorableInput({ extensionJson: '{"\\udc00":1}' })?.message).toBe(
      'extension_json: key must be valid Unicode (it has an unpaired surrogate)',
    );
    expect(unstorableInput({ extensionJson: 'not json' })).toBeUndefined();
    expect(unstorableInput({ extensionJson: '{"emoji":"\\ud83d\\ude80"}' })).toBeUndefined();
  });
});

describe('toServiceError', () => {
  it('keeps metadata ASCII whatever the field path quotes', () => {
    const e = toServiceError(new MusterError(ErrorCode.InvalidArgument, 'bad', 'labels["ключ\n"]'));
    expect((e.metadata as Metadata).get('muster-field')).toEqual(['labels["?????"]']);
    expect(asciiMetadataValue('x'.repeat(5000))).toHaveLength(1024);
  });

  it('hides unknown errors behind INTERNAL', () => {
    expect(toServiceError(new Error('secret detail'))).toEqual({
      code: 13,
      details: 'internal error; see the hub log',
    });
  });
});
