import { describeKubeError, isAlreadyExists, isTransient, kubeError } from './api-errors';
import { runPool } from './pool';

describe('runPool', () => {
  it('bounds concurrency, keeps order and collects failures', async () => {
    let running = 0;
    let peak = 0;
    const results = await runPool(
      Array.from({ length: 20 }, (_, i) => i),
      async (i) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        if (i === 7) throw new Error('seven');
        return i * 2;
      },
      { concurrency: 4 },
    );
    expect(peak).toBe(4);
    expect(results[3]).toEqual({ ok: true, value: 6 });
    expect(results[7]).toMatchObject({ ok: false });
  });

  it('skips the rest once stop() holds', async () => {
    let stop = false;
    const results = await runPool(
      [1, 2, 3, 4],
      async (i) => {
        if (i === 2) stop = true;
        return i;
      },
      { concurrency: 1, stop: () => stop },
    );
    expect(results.map((r) => 'skipped' in r)).toEqual([false, false, true, true]);
  });
});

describe('kubeError', () => {
  it('reads a client-node ApiException with a Status body', () => {
    const e = kubeError({
      code: 403,
      body: JSON.stringify({
        kind: 'Status',
        reason: 'Forbidden',
        message:
          'pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2',
      }),
    });
    expect(e).toMatchObject({ code: 403, reason: 'Forbidden' });
    expect(describeKubeError(e)).toMatch(/^Forbidden: pods "x" is forbidden: exceeded quota/);
    expect(isTransient(e)).toBe(false);
  });

  it('reads conflicts, plain bodies and network errors', () => {
    expect(
      isAlreadyExists(kubeError({ code: 409, body: { reason: 'AlreadyExists', message: 'x' } })),
    ).toBe(true);
    expect(isAlreadyExists(kubeError({ code: 409, body: { reason: 'Conflict' } }))).toBe(false);
    expect(kubeError({ code: 500, body: 'oops' })).toEqual({
      code: 500,
      reason: '',
      message: 'oops',
    });
    const net = kubeError(new Error('connect ECONNREFUSED 127.0.0.1:6443\nstack'));
    expect(net).toEqual({ code: 0, reason: '', message: 'connect ECONNREFUSED 127.0.0.1:6443' });
    expect(isTransient(net)).toBe(true);
    expect(describeKubeError(net)).toBe('Unreachable: connect ECONNREFUSED 127.0.0.1:6443');
    expect(isTransient(kubeError({ code: 429, body: '' }))).toBe(true);
  });
});
