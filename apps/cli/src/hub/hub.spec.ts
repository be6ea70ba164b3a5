import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ExitCode } from '../exit-codes';
import { hubCallError } from './hub-errors';
import { retryDelay, withRetry, type RetryPolicy } from './retry';

function serviceError(code: status, details: string, field?: string): ServiceError {
  const metadata = new Metadata();
  if (field) metadata.set('muster-field', field);
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata,
  });
}

describe('withRetry', () => {
  const sleeps: number[] = [];
  const policy: RetryPolicy = {
    attempts: 4,
    baseDelayMs: 100,
    maxDelayMs: 250,
    random: () => 1,
    sleep: async (ms) => void sleeps.push(ms),
  };

  beforeEach(() => (sleeps.length = 0));

  it('repeats the very same request after UNAVAILABLE, backing off, until it succeeds', async () => {
    const seen: string[] = [];
    const request = { clientRequestId: 'req-1' };
    let calls = 0;
    const result = await withRetry(
      async () => {
        seen.push(request.clientRequestId);
        if (++calls < 3) throw serviceError(status.UNAVAILABLE, 'connection refused');
        return 'created';
      },
      (e) => (e as ServiceError).code === status.UNAVAILABLE,
      policy,
    );
    expect(result).toBe('created');
    expect(seen).toEqual(['req-1', 'req-1', 'req-1']);
    expect(sleeps).toEqual([100, 200]);
  });

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw serviceError(status.UNAVAILABLE, 'down');
        },
        () => true,
        policy,
      ),
    ).rejects.toMatchObject({ details: 'down' });
    expect(calls).toBe(4);
    expect(sleeps).toEqual([100, 200, 250]);
  });

  it('does not retry other failures', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw serviceError(status.INVALID_ARGUMENT, 'bad');
        },
        (e) => (e as ServiceError).code === status.UNAVAILABLE,
        policy,
      ),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(calls).toBe(1);
  });

  it('spreads delays between half and all of the exponential step', () => {
    expect(retryDelay(1, policy, () => 0)).toBe(50);
    expect(retryDelay(3, policy, () => 0.5)).toBe(187);
  });
});

describe('hub errors', () => {
  const hub = { address: '10.0.0.9:50051', addressSource: 'MUSTER_HUB' };

  it('says which hub could not be reached and how to change it', () => {
    const e = hubCallError(serviceError(status.UNAVAILABLE, 'No connection established'), hub);
    expect(e.exitCode).toBe(ExitCode.Failure);
    expect(e.message).toContain(
      'cannot reach the hub at 10.0.0.9:50051 (from MUSTER_HUB): No connection established',
    );
    expect(e.message).toContain('--hub HOST:PORT, MUSTER_HUB or `muster config use-context NAME`');
  });

  it('keeps only the cause of a connection failure', () => {
    const e = hubCallError(
      serviceError(
        status.UNAVAILABLE,
        'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ',
      ),
      hub,
    );
    expect(e.message).toMatch(
      /^cannot reach the hub at 10\.0\.0\.9:50051 \(from MUSTER_HUB\): connect ECONNREFUSED 127\.0\.0\.1:1; check/,
    );
  });

  it('maps NOT_FOUND to 3 and INVALID_ARGUMENT to 2, keeping the hub message and field', () => {
    const nf = hubCallError(serviceError(status.NOT_FOUND, 'job "x" not found'), hub);
    expect([nf.exitCode, nf.message]).toEqual([ExitCode.NotFound, 'job "x" not found']);
    const bad = hubCallError(
      serviceError(status.INVALID_ARGUMENT, 'spec.name: must not be empty', 'spec.name'),
      hub,
    );
    expect([bad.exitCode, bad.message, bad.field]).toEqual([
      ExitCode.Usage,
      'spec.name: must not be empty',
      'spec.name',
    ]);
  });

  it('explains refused credentials', () => {
    const e = hubCallError(serviceError(status.UNAUTHENTICATED, 'bad token'), hub);
    expect(e.message).toContain(
      'refused the credentials: bad token; set a token with --token, MUSTER_TOKEN',
    );
  });

  it('names the status of other failures', () => {
    expect(
      hubCallError(serviceError(status.INTERNAL, 'internal error; see the hub log'), hub).message,
    ).toBe('internal error; see the hub log (INTERNAL)');
  });
});
