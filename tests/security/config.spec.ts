// The hub refuses to start with less protection than asked for, says why (naming the variable,
// never a secret), and development mode announces itself.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubProcess } from '../support/hub-process';
import { createTestDatabase, createTestRedis } from '../support/services';
import {
  hubRefusal,
  issuePki,
  leaks,
  tempDir,
  writeTokensFile,
  type Pki,
} from '../support/security';

let dir: ReturnType<typeof tempDir>;
let pki: Pki;
let tokens: string;
const TOKEN = `cfg-${randomUUID()}`;

beforeAll(() => {
  dir = tempDir('muster-sec-config-');
  pki = issuePki(join(dir.path, 'pki'), ['alpha']);
  tokens = writeTokensFile(dir.path, [{ name: 'ops', token: TOKEN, role: 'admin' }]);
});

afterAll(() => dir?.remove());

const tls = () => ({
  MUSTER_TLS_CERT_FILE: pki.hubCertFile,
  MUSTER_TLS_KEY_FILE: pki.hubKeyFile,
  MUSTER_TLS_CLIENT_CA_FILE: pki.caFile,
});

describe('start-up refuses missing or broken security settings (exit code 2)', () => {
  const cases: [string, () => Record<string, string>, RegExp][] = [
    [
      'no TLS outside development mode',
      () => ({ MUSTER_AUTH_TOKENS_FILE: tokens }),
      /MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE are required/,
    ],
    [
      'no client CA for agents',
      () => ({ ...tls(), MUSTER_TLS_CLIENT_CA_FILE: '', MUSTER_AUTH_TOKENS_FILE: tokens }),
      /MUSTER_TLS_CLIENT_CA_FILE is required/,
    ],
    [
      'a key that does not fit the certificate',
      () => ({
        ...tls(),
        MUSTER_TLS_KEY_FILE: pki.agentKeyFile('alpha'),
        MUSTER_AUTH_TOKENS_FILE: tokens,
      }),
      /MUSTER_TLS_CERT_FILE \/ MUSTER_TLS_KEY_FILE/,
    ],
    [
      'a missing certificate file',
      () => ({
        ...tls(),
        MUSTER_TLS_CERT_FILE: join(dir.path, 'nope.crt'),
        MUSTER_AUTH_TOKENS_FILE: tokens,
      }),
      /MUSTER_TLS_CERT_FILE: cannot read .*ENOENT/,
    ],
    ['no way to authenticate people', () => tls(), /no authentication configured/],
    [
      'a broken tokens file',
      () => {
        const bad = join(dir.path, 'bad-tokens.yaml');
        writeFileSync(bad, `tokens:\n  - name: x\n    token: ${TOKEN}\n    role: superuser\n`);
        return { ...tls(), MUSTER_AUTH_TOKENS_FILE: bad };
      },
      /tokens\[0\]\.role: must be admin, submitter or viewer/,
    ],
    [
      'an OIDC issuer without an audience',
      () => ({ ...tls(), MUSTER_OIDC_ISSUER: 'https://login.example.test' }),
      /MUSTER_OIDC_AUDIENCE: is required/,
    ],
    [
      'an OIDC issuer over plain http',
      () => ({
        ...tls(),
        MUSTER_OIDC_ISSUER: 'http://login.example.test',
        MUSTER_OIDC_AUDIENCE: 'm',
      }),
      /MUSTER_OIDC_ISSUER: must be an https:\/\/ URL/,
    ],
    [
      'an unknown pod policy rule',
      () => ({
        ...tls(),
        MUSTER_AUTH_TOKENS_FILE: tokens,
        MUSTER_POD_POLICY_DISABLE: 'no-seatbelts',
      }),
      /unknown pod policy rule "no-seatbelts"/,
    ],
    [
      'a bad limit',
      () => ({ ...tls(), MUSTER_AUTH_TOKENS_FILE: tokens, MUSTER_SUBMITS_PER_SECOND: 'lots' }),
      /MUSTER_SUBMITS_PER_SECOND: must be an integer/,
    ],
  ];
  // The hub processes start at once (each takes a moment to load); the checks read their results.
  const results = new Map<string, Promise<{ code: number | null; output: string }>>();
  beforeAll(() => {
    for (const [what, env] of cases)
      results.set(
        what,
        hubRefusal({
          MUSTER_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
          MUSTER_DEV_INSECURE: '',
          ...env(),
        }),
      );
  });

  it.each(cases)('%s', async (what, _env, message) => {
    const { code, output } = await results.get(what)!;
    expect(code).toBe(2);
    expect(output).toMatch(message);
    expect(leaks(output, [TOKEN, ...pki.privateKeys()])).toEqual([]);
  });
});

describe('development mode', () => {
  it('is announced with a warning at start-up, naming what is relaxed', async () => {
    const db = await createTestDatabase();
    const redis = await createTestRedis();
    const hub = await HubProcess.start({ databaseUrl: db.url, redisPrefix: redis.prefix });
    try {
      const warning = hub.logs.find((l) => l.includes('MUSTER_DEV_INSECURE is on'));
      expect(warning).toBeDefined();
      expect(JSON.parse(warning!)).toMatchObject({ level: 'warn', component: 'security' });
      expect(warning).toMatch(/PLAIN TEXT.*NO AUTHENTICATION.*agents are NOT AUTHENTICATED/);
      // It works as before: plain text, no token.
      const api = hub.connect();
      expect((await api.inventory.listQueues({})).queues).toEqual([]);
      api.close();
    } finally {
      await hub.stop();
      await redis.cleanup();
      await db.drop();
    }
  });
});
