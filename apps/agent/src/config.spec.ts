import { ConfigError, DEFAULT_TOPOLOGY_LEVELS, loadAgentConfig } from './config';

const base = { MUSTER_CLUSTER: 'gpu-east', KUBECONFIG: __filename };

describe('loadAgentConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadAgentConfig(base);
    expect(c).toMatchObject({
      hubAddress: '127.0.0.1:50051',
      cluster: 'gpu-east',
      kubeconfig: __filename,
      topologyLevels: [...DEFAULT_TOPOLOGY_LEVELS],
      reportIntervalMs: 500,
      heartbeatIntervalMs: 2000,
      bindTimeoutMs: 60000,
      createConcurrency: 32,
      reconnectInitialMs: 500,
      reconnectMaxMs: 30000,
      logLevel: 'info',
      gangScheduling: 'auto',
      tlsCaFile: undefined,
      tlsCertFile: undefined,
      tlsKeyFile: undefined,
    });
    expect(c.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    // No default of the agent's own: the hub tells it (HelloAck, recorded on the pods).
    expect(c.selfFenceTimeoutMs).toBeUndefined();
  });

  it('reads every option', () => {
    const c = loadAgentConfig({
      ...base,
      MUSTER_HUB: 'hub.muster.svc:7000',
      MUSTER_TOPOLOGY_LEVELS: ' topology.kubernetes.io/zone , kubernetes.io/hostname ',
      MUSTER_REPORT_INTERVAL_MS: '100',
      MUSTER_HEARTBEAT_INTERVAL_MS: '1000',
      MUSTER_BIND_TIMEOUT_MS: '5000',
      MUSTER_SELF_FENCE_TIMEOUT_MS: '3000',
      MUSTER_CREATE_CONCURRENCY: '8',
      MUSTER_LOG_LEVEL: 'debug',
      MUSTER_GANG_SCHEDULING: 'gates',
      MUSTER_TLS_CA_FILE: ' /pki/ca.crt ',
      MUSTER_TLS_CERT_FILE: '/pki/agent.crt',
      MUSTER_TLS_KEY_FILE: '/pki/agent.key',
    });
    expect(c.hubAddress).toBe('hub.muster.svc:7000');
    expect(c.topologyLevels).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    expect(c.reportIntervalMs).toBe(100);
    expect(c.heartbeatIntervalMs).toBe(1000);
    expect(c.bindTimeoutMs).toBe(5000);
    expect(c.selfFenceTimeoutMs).toBe(3000);
    expect(c.createConcurrency).toBe(8);
    expect(c.logLevel).toBe('debug');
    expect(c.gangScheduling).toBe('gates');
    expect([c.tlsCaFile, c.tlsCertFile, c.tlsKeyFile]).toEqual([
      '/pki/ca.crt',
      '/pki/agent.crt',
      '/pki/agent.key',
    ]);
    expect(
      loadAgentConfig({ ...base, MUSTER_GANG_SCHEDULING: 'workload-api' }).gangScheduling,
    ).toBe('workload-api');
  });

  it('uses the in-cluster service account when KUBECONFIG is unset inside a pod', () => {
    const c = loadAgentConfig({ MUSTER_CLUSTER: 'a', KUBERNETES_SERVICE_HOST: '10.96.0.1' });
    expect(c.kubeconfig).toBeUndefined();
  });

  it.each([
    [{ MUSTER_CLUSTER: '' }, 'MUSTER_CLUSTER: is required'],
    [{ MUSTER_CLUSTER: 'GPU_East' }, 'MUSTER_CLUSTER: must be a DNS-1123 label'],
    [{ KUBECONFIG: '/nonexistent/kubeconfig' }, 'KUBECONFIG: no such file'],
    [{ KUBECONFIG: '' }, 'KUBECONFIG: is required outside a cluster'],
    [{ MUSTER_HUB: 'no-port' }, 'MUSTER_HUB: must be "host:port"'],
    [{ MUSTER_HUB: 'h:70000' }, 'MUSTER_HUB'],
    [{ MUSTER_REPORT_INTERVAL_MS: 'soon' }, 'MUSTER_REPORT_INTERVAL_MS: must be an integer'],
    [
      { MUSTER_CREATE_CONCURRENCY: '0' },
      'MUSTER_CREATE_CONCURRENCY: must be an integer of at least 1',
    ],
    [{ MUSTER_BIND_TIMEOUT_MS: '1.5' }, 'MUSTER_BIND_TIMEOUT_MS'],
    [
      { MUSTER_SELF_FENCE_TIMEOUT_MS: '50' },
      'MUSTER_SELF_FENCE_TIMEOUT_MS: must be an integer of at least 100',
    ],
    [{ MUSTER_LOG_LEVEL: 'loud' }, 'MUSTER_LOG_LEVEL'],
    [{ MUSTER_GANG_SCHEDULING: 'podgroup' }, 'MUSTER_GANG_SCHEDULING: must be auto'],
    [{ MUSTER_TOPOLOGY_LEVELS: 'zone,not a label!' }, 'MUSTER_TOPOLOGY_LEVELS[1]'],
    [{ MUSTER_TOPOLOGY_LEVELS: 'a,a' }, 'MUSTER_TOPOLOGY_LEVELS: lists a level twice'],
    [
      { MUSTER_TLS_CERT_FILE: '/pki/agent.crt' },
      'MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE go together; set both',
    ],
    [
      { MUSTER_RECONNECT_INITIAL_MS: '5000', MUSTER_RECONNECT_MAX_MS: '100' },
      'MUSTER_RECONNECT_MAX_MS',
    ],
  ])('refuses %j', (env, message) => {
    expect(() => loadAgentConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadAgentConfig({ ...base, ...env })).toThrow(message);
  });

  it('reads a blank variable as unset', () => {
    const c = loadAgentConfig({ ...base, MUSTER_HUB: ' ', MUSTER_BIND_TIMEOUT_MS: '' });
    expect([c.hubAddress, c.bindTimeoutMs]).toEqual(['127.0.0.1:50051', 60000]);
  });

  it('reports every variable at fault at once', () => {
    expect(() =>
      loadAgentConfig({
        ...base,
        MUSTER_CLUSTER: 'GPU_East',
        MUSTER_REPORT_INTERVAL_MS: 'soon',
        MUSTER_LOG_LEVEL: 'loud',
      }),
    ).toThrow(
      /^MUSTER_CLUSTER: must be a DNS-1123 label.* \(got "GPU_East"\); MUSTER_REPORT_INTERVAL_MS: must be an integer of at least 10 \(got "soon"\); MUSTER_LOG_LEVEL: must be debug, info, warn or error \(got "loud"\)$/,
    );
  });
});
