// The hub refuses fence timings that could leave a lost cluster's requeue gangs running after it
// gave up on the cluster: self-fence + fence delete grace + 2 heartbeat intervals < worker lost.
import { ConfigError, loadHubConfig } from '../../apps/hub/src/config/hub-config';

describe('fence timings in the hub configuration', () => {
  it('defaults fit: 40 s + 10 s + 2 × 2 s < 60 s', () => {
    const c = loadHubConfig({});
    expect([
      c.selfFenceTimeoutMs,
      c.fenceDeleteGraceSeconds,
      c.heartbeatIntervalMs,
      c.workerLostTimeoutMs,
    ]).toEqual([40_000, 10, 2000, 60_000]);
  });

  it.each([
    [
      { MUSTER_FENCE_DELETE_GRACE_S: '16' },
      '(16 s) + 2 × MUSTER_HEARTBEAT_INTERVAL_MS (2000) = 60000 ms',
    ],
    [{ MUSTER_SELF_FENCE_TIMEOUT_MS: '59000' }, '59000'],
    [{ MUSTER_HEARTBEAT_INTERVAL_MS: '5000' }, '2 × MUSTER_HEARTBEAT_INTERVAL_MS (5000)'],
    [{ MUSTER_WORKER_LOST_TIMEOUT_MS: '54000' }, 'MUSTER_WORKER_LOST_TIMEOUT_MS (54000)'],
  ])('refuses %j, naming the variables', (env, detail) => {
    expect(() => loadHubConfig(env)).toThrow(ConfigError);
    expect(() => loadHubConfig(env)).toThrow(
      /MUSTER_SELF_FENCE_TIMEOUT_MS .* \+ MUSTER_FENCE_DELETE_GRACE_S .* must be below MUSTER_WORKER_LOST_TIMEOUT_MS/,
    );
    expect(() => loadHubConfig(env)).toThrow(detail);
  });

  it('accepts a tight fit and refuses a grace of 0 (a force delete)', () => {
    const env = {
      MUSTER_WORKER_LOST_TIMEOUT_MS: '8000',
      MUSTER_SELF_FENCE_TIMEOUT_MS: '5000',
      MUSTER_FENCE_DELETE_GRACE_S: '1',
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
    };
    expect(loadHubConfig(env).fenceDeleteGraceSeconds).toBe(1);
    expect(() => loadHubConfig({ ...env, MUSTER_FENCE_DELETE_GRACE_S: '0' })).toThrow(
      'MUSTER_FENCE_DELETE_GRACE_S: must be an integer of at least 1',
    );
  });
});
