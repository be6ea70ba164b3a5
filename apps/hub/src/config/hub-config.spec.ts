import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASELINE_CAPABILITIES, POD_POLICY_RULES } from '@muster/k8s';
import { ConfigError, hubSettings, loadHubConfig } from './hub-config';

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadHubConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('loadHubConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadHubConfig({});
    expect(c).toEqual({
      grpcAddress: '127.0.0.1:50051',
      httpPort: 8080,
      httpHost: '127.0.0.1',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/muster',
      migrate: true,
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'muster',
      maxMembersPerGang: 4096,
      maxPodSetsPerGang: 16,
      maxRequestBytes: 4 * 1024 * 1024,
      eventRetentionHours: 168,
      pruneIntervalMs: 3_600_000,
      usageRetentionDays: 90,
      fairShareHalfLifeSeconds: 86_400,
      watchBufferEvents: 10_000,
      eventPollMs: 1000,
      workerLostTimeoutMs: 60_000,
      selfFenceTimeoutMs: 40_000,
      fenceDeleteGraceSeconds: 10,
      frontDoor: true,
      frontDoorLabels: ['muster.dev/queue', 'kueue.x-k8s.io/queue-name'],
      frontDoorQueues: ['*/*=*'],
      heartbeatIntervalMs: 2000,
      maxGangsPerCycle: 2000,
      cyclePeriodMs: 2000,
      cycleCoalesceMs: 20,
      placementPolicy: 'pack',
      maxRequeueBackoffSeconds: 60,
      evictionGraceSeconds: 30,
      maxDispatchAttempts: 50,
      clusterExclusionSeconds: 900,
      reconcileIntervalMs: 10_000,
      clusterAccessProviders: undefined,
      inventoryKubeconfig: undefined,
      inventoryNamespace: 'muster-inventory',
      inventoryImportNamespaces: [],
      inventoryPollMs: 1000,
      inventoryResyncMs: 60_000,
      inventoryCapacityIntervalMs: 10_000,
      placementDecisions: true,
      logLevel: 'info',
      devInsecure: false,
      tlsCertFile: undefined,
      tlsKeyFile: undefined,
      tlsClientCaFile: undefined,
      authTokensFile: undefined,
      oidc: undefined,
      maxWatchersPerCaller: 16,
      submitsPerSecond: 50,
      submitBurst: 100,
      agentMessagesPerSecond: 200,
      agentMessageBurst: 2000,
      podPolicy: {
        enabled: new Set(POD_POLICY_RULES),
        allowedCapabilities: new Set(BASELINE_CAPABILITIES),
      },
      maxTemplateMetadataBytes: 65536,
      priorityClasses: new Map(),
    });
  });

  it('reads a blank or padded variable as unset or trimmed', () => {
    const c = loadHubConfig({
      MUSTER_GRPC_ADDR: '',
      MUSTER_HTTP_PORT: '  ',
      MUSTER_TLS_CERT_FILE: ' ',
      MUSTER_REDIS_PREFIX: ' tenant-a ',
    });
    expect([c.grpcAddress, c.httpPort, c.tlsCertFile, c.redisPrefix]).toEqual([
      '127.0.0.1:50051',
      8080,
      undefined,
      'tenant-a',
    ]);
  });

  it('reads strings and files as given', () => {
    const c = loadHubConfig({
      MUSTER_GRPC_ADDR: '0.0.0.0:7000',
      MUSTER_DATABASE_URL: 'postgres://m@db/muster',
      MUSTER_TLS_CERT_FILE: '/pki/hub.crt',
      MUSTER_TLS_KEY_FILE: '/pki/hub.key',
      MUSTER_TLS_CLIENT_CA_FILE: '/pki/ca.crt',
      MUSTER_AUTH_TOKENS_FILE: '/etc/muster/tokens.yaml',
      MUSTER_INVENTORY_KUBECONFIG: '/etc/muster/management.kubeconfig',
      MUSTER_PLACEMENT_POLICY: 'spread',
      MUSTER_LOG_LEVEL: 'debug',
    });
    expect(c).toMatchObject({
      grpcAddress: '0.0.0.0:7000',
      databaseUrl: 'postgres://m@db/muster',
      tlsCertFile: '/pki/hub.crt',
      tlsKeyFile: '/pki/hub.key',
      tlsClientCaFile: '/pki/ca.crt',
      authTokensFile: '/etc/muster/tokens.yaml',
      inventoryKubeconfig: '/etc/muster/management.kubeconfig',
      placementPolicy: 'spread',
      logLevel: 'debug',
    });
  });

  it.each([
    ['true', true],
    ['YES', true],
    ['1', true],
    ['false', false],
    ['No', false],
    ['0', false],
  ])('reads the boolean %p as %p', (raw, value) => {
    expect(loadHubConfig({ MUSTER_MIGRATE: raw }).migrate).toBe(value);
    expect(loadHubConfig({ MUSTER_DEV_INSECURE: raw }).devInsecure).toBe(value);
    expect(loadHubConfig({ MUSTER_PLACEMENT_DECISIONS: raw }).placementDecisions).toBe(value);
  });

  it('refuses a boolean that is neither', () => {
    expect(refusal({ MUSTER_MIGRATE: 'maybe' })).toBe(
      'MUSTER_MIGRATE: must be true or false (got "maybe")',
    );
  });

  it('reads comma lists, trimmed, without empty items', () => {
    const c = loadHubConfig({
      MUSTER_INVENTORY_IMPORT_NAMESPACES: ' fleet-a, ,fleet-b,fleet-a,',
      MUSTER_POD_POLICY_DISABLE: 'no-host-path, no-host-ports',
      MUSTER_POD_POLICY_ALLOWED_CAPABILITIES: 'net_admin, CAP_SYS_TIME',
    });
    expect(c.inventoryImportNamespaces).toEqual(['fleet-a', 'fleet-b']);
    expect([...c.podPolicy.enabled]).toEqual(
      POD_POLICY_RULES.filter((r) => r !== 'no-host-path' && r !== 'no-host-ports'),
    );
    expect([...c.podPolicy.allowedCapabilities]).toEqual(['NET_ADMIN', 'SYS_TIME']);
    expect(
      loadHubConfig({ MUSTER_PRIORITY_CLASSES: ' low=0, high = 1000 ,urgent=-5' }).priorityClasses,
    ).toEqual(
      new Map([
        ['low', 0],
        ['high', 1000],
        ['urgent', -5],
      ]),
    );
  });

  it.each([
    [
      { MUSTER_INVENTORY_IMPORT_NAMESPACES: 'fleet-a,Fleet_B' },
      'MUSTER_INVENTORY_IMPORT_NAMESPACES[1]: "Fleet_B" is not a namespace name (a DNS-1123 label)',
    ],
    [{ MUSTER_INVENTORY_NAMESPACE: 'a,b' }, 'MUSTER_INVENTORY_NAMESPACE: must name one namespace'],
    [
      { MUSTER_FRONT_DOOR_QUEUES: 'team-a=research,team-b' },
      'MUSTER_FRONT_DOOR_QUEUES[1]: "team-b" is not NAMESPACE[/LABEL]=QUEUE',
    ],
    [
      { MUSTER_FRONT_DOOR_LABELS: 'muster.dev/queue,bad label' },
      'MUSTER_FRONT_DOOR_LABELS[1]: label "bad label": name part must consist of letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
    ],
    [
      { MUSTER_INVENTORY_NAMESPACE: 'x'.repeat(64) },
      `MUSTER_INVENTORY_NAMESPACE: "${'x'.repeat(64)}" is not a namespace name (a DNS-1123 label)`,
    ],
    [
      { MUSTER_POD_POLICY_DISABLE: 'no-host-path,no-seatbelts' },
      `MUSTER_POD_POLICY_DISABLE[1]: unknown pod policy rule "no-seatbelts"; rules: ${POD_POLICY_RULES.join(', ')}`,
    ],
    [
      { MUSTER_PRIORITY_CLASSES: 'low=0,high' },
      'MUSTER_PRIORITY_CLASSES[1]: "high" is not name=value',
    ],
    [
      { MUSTER_PRIORITY_CLASSES: 'High=10' },
      'MUSTER_PRIORITY_CLASSES[0]: priority class "High": must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
    ],
    [
      { MUSTER_PRIORITY_CLASSES: 'high=1e12' },
      'MUSTER_PRIORITY_CLASSES[0]: priority class "high": "1e12" is not a 32-bit integer',
    ],
    [
      { MUSTER_PLACEMENT_POLICY: 'random' },
      'MUSTER_PLACEMENT_POLICY: must be pack or spread (got "random")',
    ],
    [
      { MUSTER_LOG_LEVEL: 'loud' },
      'MUSTER_LOG_LEVEL: must be debug, info, warn or error (got "loud")',
    ],
    [
      { MUSTER_HTTP_PORT: '65536' },
      'MUSTER_HTTP_PORT: must be an integer from 0 to 65535 (got "65536")',
    ],
  ])('refuses %j', (env, message) => {
    expect(refusal(env)).toBe(message);
  });

  // Every integer setting with its least value; the fence timings are also bound together
  // (tests/hub/fence-config.spec.ts).
  const bounds: [string, number][] = [
    ['MUSTER_HTTP_PORT', 0],
    ['MUSTER_OIDC_CLOCK_SKEW_S', 0],
    ['MUSTER_OIDC_JWKS_REFRESH_S', 10],
    ['MUSTER_MAX_REQUEST_BYTES', 1024],
    ['MUSTER_MAX_MEMBERS_PER_GANG', 1],
    ['MUSTER_MAX_POD_SETS', 1],
    ['MUSTER_MAX_TEMPLATE_METADATA_BYTES', 256],
    ['MUSTER_MAX_WATCHERS_PER_CALLER', 0],
    ['MUSTER_SUBMITS_PER_SECOND', 0],
    ['MUSTER_SUBMIT_BURST', 1],
    ['MUSTER_AGENT_MESSAGES_PER_SECOND', 0],
    ['MUSTER_AGENT_MESSAGE_BURST', 1],
    ['MUSTER_CYCLE_PERIOD_MS', 50],
    ['MUSTER_CYCLE_COALESCE_MS', 0],
    ['MUSTER_MAX_GANGS_PER_CYCLE', 1],
    ['MUSTER_MAX_REQUEUE_BACKOFF_S', 0],
    ['MUSTER_EVICTION_GRACE_S', 0],
    ['MUSTER_FAIR_SHARE_HALF_LIFE_S', 0],
    ['MUSTER_CLUSTER_EXCLUSION_S', 0],
    ['MUSTER_MAX_DISPATCH_ATTEMPTS', 0],
    ['MUSTER_RECONCILE_INTERVAL_MS', 100],
    ['MUSTER_HEARTBEAT_INTERVAL_MS', 100],
    ['MUSTER_SELF_FENCE_TIMEOUT_MS', 50],
    ['MUSTER_FENCE_DELETE_GRACE_S', 1],
    ['MUSTER_WORKER_LOST_TIMEOUT_MS', 100],
    ['MUSTER_EVENT_POLL_MS', 50],
    ['MUSTER_WATCH_BUFFER_EVENTS', 10],
    ['MUSTER_EVENT_RETENTION_HOURS', 1],
    ['MUSTER_PRUNE_INTERVAL_MS', 1000],
    ['MUSTER_USAGE_RETENTION_DAYS', 32],
    ['MUSTER_INVENTORY_POLL_MS', 100],
    ['MUSTER_INVENTORY_RESYNC_MS', 1000],
    ['MUSTER_INVENTORY_CAPACITY_INTERVAL_MS', 0],
  ];

  it('bounds every integer setting (this table lists them all)', () => {
    const integers = Object.keys(hubSettings.shape).filter(
      (name) =>
        typeof hubSettings.shape[name as keyof typeof hubSettings.shape].parse(undefined) ===
        'number',
    );
    expect(bounds.map(([name]) => name).sort()).toEqual(integers.sort());
  });

  it.each(bounds)('refuses %s below %p, or not an integer, naming it', (name, min) => {
    const ranges: Record<string, string> = {
      MUSTER_HTTP_PORT: 'from 0 to 65535',
      MUSTER_EVICTION_GRACE_S: 'from 0 to 86400',
    };
    const message = `${name}: must be an integer ${ranges[name] ?? `of at least ${min}`}`;
    const oidc = name.startsWith('MUSTER_OIDC_')
      ? { MUSTER_OIDC_ISSUER: 'https://login.example.test', MUSTER_OIDC_AUDIENCE: 'muster' }
      : {};
    expect(refusal({ ...oidc, [name]: String(min - 1) })).toBe(`${message} (got "${min - 1}")`);
    expect(refusal({ ...oidc, [name]: '2.5' })).toBe(`${message} (got "2.5")`);
    expect(refusal({ ...oidc, [name]: 'lots' })).toBe(`${message} (got "lots")`);
  });

  it('accepts each bound itself', () => {
    // The worker-lost timeout is bound by the fence timings too; its own least value cannot fit them.
    for (const [name, min] of bounds.filter(([n]) => n !== 'MUSTER_WORKER_LOST_TIMEOUT_MS')) {
      expect(() => loadHubConfig({ [name]: String(min) })).not.toThrow();
    }
  });

  it('refuses fence timings that could leave a lost cluster running, naming all four', () => {
    expect(refusal({ MUSTER_WORKER_LOST_TIMEOUT_MS: '54000' })).toBe(
      "MUSTER_SELF_FENCE_TIMEOUT_MS (40000) + MUSTER_FENCE_DELETE_GRACE_S (10 s) + 2 × MUSTER_HEARTBEAT_INTERVAL_MS (2000) = 54000 ms must be below MUSTER_WORKER_LOST_TIMEOUT_MS (54000), or a lost cluster's gangs could still be running when the hub gives up on it",
    );
    expect(loadHubConfig({ MUSTER_WORKER_LOST_TIMEOUT_MS: '54001' }).workerLostTimeoutMs).toBe(
      54001,
    );
  });

  it('reports every variable at fault at once, and no rule between settings that are already wrong', () => {
    expect(
      refusal({
        MUSTER_MIGRATE: 'maybe',
        MUSTER_FENCE_DELETE_GRACE_S: '0',
        MUSTER_WORKER_LOST_TIMEOUT_MS: '100',
      }),
    ).toBe(
      'MUSTER_MIGRATE: must be true or false (got "maybe"); MUSTER_FENCE_DELETE_GRACE_S: must be an integer of at least 1 (got "0")',
    );
  });

  describe('OIDC', () => {
    const issuer = { MUSTER_OIDC_ISSUER: 'https://login.example.test', MUSTER_OIDC_AUDIENCE: 'm' };

    it('is off without an issuer, and on with its defaults with one', () => {
      expect(loadHubConfig({}).oidc).toBeUndefined();
      expect(loadHubConfig(issuer).oidc).toEqual({
        issuer: 'https://login.example.test',
        audience: 'm',
        jwksFile: undefined,
        jwksUrl: undefined,
        roleClaim: 'muster_role',
        queuesClaim: 'muster_queues',
        nameClaim: 'preferred_username',
        groupsClaim: 'groups',
        groupRoles: undefined,
        clockSkewSeconds: 60,
        jwksRefreshSeconds: 300,
      });
    });

    it('reads every option', () => {
      const oidc = loadHubConfig({
        ...issuer,
        MUSTER_OIDC_ISSUER: 'http://127.0.0.1:9000',
        MUSTER_OIDC_JWKS_FILE: '/etc/muster/jwks.json',
        MUSTER_OIDC_ROLE_CLAIM: 'r',
        MUSTER_OIDC_QUEUES_CLAIM: 'q',
        MUSTER_OIDC_NAME_CLAIM: 'email',
        MUSTER_OIDC_GROUPS_CLAIM: 'g',
        MUSTER_OIDC_GROUP_ROLES: '{"ops": "admin"}',
        MUSTER_OIDC_CLOCK_SKEW_S: '0',
        MUSTER_OIDC_JWKS_REFRESH_S: '10',
      }).oidc;
      expect(oidc).toEqual({
        issuer: 'http://127.0.0.1:9000',
        audience: 'm',
        jwksFile: '/etc/muster/jwks.json',
        jwksUrl: undefined,
        roleClaim: 'r',
        queuesClaim: 'q',
        nameClaim: 'email',
        groupsClaim: 'g',
        groupRoles: '{"ops": "admin"}',
        clockSkewSeconds: 0,
        jwksRefreshSeconds: 10,
      });
    });

    it.each([
      [{ MUSTER_OIDC_AUDIENCE: 'm' }, 'MUSTER_OIDC_AUDIENCE is set but MUSTER_OIDC_ISSUER is not'],
      [
        { MUSTER_OIDC_JWKS_URL: 'https://k' },
        'MUSTER_OIDC_JWKS_URL is set but MUSTER_OIDC_ISSUER is not',
      ],
      [
        { MUSTER_OIDC_ISSUER: 'https://login.example.test' },
        'MUSTER_OIDC_AUDIENCE: is required with MUSTER_OIDC_ISSUER',
      ],
      [
        { ...issuer, MUSTER_OIDC_JWKS_FILE: '/k.json', MUSTER_OIDC_JWKS_URL: 'https://k' },
        'MUSTER_OIDC_JWKS_FILE and MUSTER_OIDC_JWKS_URL: set one, not both',
      ],
      [
        { ...issuer, MUSTER_OIDC_ISSUER: 'http://login.example.test' },
        'MUSTER_OIDC_ISSUER: must be an https:// URL (http:// only on loopback)',
      ],
      [
        { ...issuer, MUSTER_OIDC_JWKS_URL: 'http://keys.example.test/jwks' },
        'MUSTER_OIDC_JWKS_URL: must be an https:// URL (http:// only on loopback)',
      ],
      [
        { ...issuer, MUSTER_OIDC_ISSUER: 'login.example.test' },
        'MUSTER_OIDC_ISSUER: must be a URL (got "login.example.test")',
      ],
    ])('refuses %j', (env, message) => {
      expect(refusal(env)).toBe(message);
    });

    it('does not ask an issuer whose keys come from a file to be https', () => {
      expect(
        loadHubConfig({
          ...issuer,
          MUSTER_OIDC_ISSUER: 'http://login.example.test',
          MUSTER_OIDC_JWKS_FILE: '/k.json',
        }).oidc?.issuer,
      ).toBe('http://login.example.test');
    });
  });

  describe('the cluster access provider file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'muster-hub-config-'));

    it('is read and checked at start', () => {
      const path = join(dir, 'providers.json');
      writeFileSync(
        path,
        JSON.stringify({
          providers: [
            {
              name: 'token',
              execConfig: { apiVersion: 'client.authentication.k8s.io/v1', command: 'get-token' },
            },
          ],
        }),
      );
      const file = loadHubConfig({
        MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: path,
      }).clusterAccessProviders;
      expect(file?.providers.map((p) => p.name)).toEqual(['token']);
    });

    it('stops the hub when missing or broken, naming the variable', () => {
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, JSON.stringify({ providers: [{ name: 'x' }] }));
      expect(refusal({ MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: broken })).toMatch(
        /^MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: .*providers\[0\]\.execConfig/,
      );
      expect(refusal({ MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: join(dir, 'none.json') })).toMatch(
        /^MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: .*ENOENT/,
      );
    });
  });
});
