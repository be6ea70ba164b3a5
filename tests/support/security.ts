// Security test support: certificates made by infra/pki/issue.mjs in a temp dir, a tokens file,
// a stand-in OIDC issuer (keys in a JWKS file, tokens signed here) and a hub started as in
// production (TLS, mutual TLS for agents, bearer tokens; no development mode).
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { HubEnvironmentOptions } from './hub-environment';
import { REPO_ROOT } from './hub-process';

export interface Pki {
  dir: string;
  caFile: string;
  hubCertFile: string;
  hubKeyFile: string;
  agentCertFile(cluster: string): string;
  agentKeyFile(cluster: string): string;
  /** Every PEM private key issued, for "never in the logs" checks. */
  privateKeys(): string[];
}

/** Runs the issue script, as an operator would. */
export function issuePki(dir: string, clusters: string[], caName = 'Muster Test CA'): Pki {
  const args = [join(REPO_ROOT, 'infra/pki/issue.mjs'), '--out', dir, '--ca-name', caName];
  for (const c of clusters) args.push('--cluster', c);
  execFileSync(process.execPath, args, { stdio: 'pipe' });
  const pki: Pki = {
    dir,
    caFile: join(dir, 'ca.crt'),
    hubCertFile: join(dir, 'hub.crt'),
    hubKeyFile: join(dir, 'hub.key'),
    agentCertFile: (c) => join(dir, 'agents', `${c}.crt`),
    agentKeyFile: (c) => join(dir, 'agents', `${c}.key`),
    privateKeys: () =>
      [join(dir, 'ca.key'), pki.hubKeyFile, ...clusters.map(pki.agentKeyFile)].map((f) =>
        readFileSync(f, 'utf8'),
      ),
  };
  return pki;
}

/** TLS to the hub, trusting `pki`'s CA, with a client certificate when a cluster is given. */
export function tlsCredentials(
  pki: Pki,
  clientOf?: { cert: string; key: string },
): ChannelCredentials {
  return clientOf
    ? credentials.createSsl(
        readFileSync(pki.caFile),
        readFileSync(clientOf.key),
        readFileSync(clientOf.cert),
      )
    : credentials.createSsl(readFileSync(pki.caFile));
}

export function agentCredentials(trust: Pki, identity: Pki, cluster: string): ChannelCredentials {
  return tlsCredentials(trust, {
    cert: identity.agentCertFile(cluster),
    key: identity.agentKeyFile(cluster),
  });
}

export interface TokenSpec {
  name: string;
  token: string;
  role: 'admin' | 'submitter' | 'viewer';
  queues?: string[];
}

export function writeTokensFile(dir: string, tokens: TokenSpec[]): string {
  const path = join(dir, 'tokens.yaml');
  const lines = ['tokens:'];
  for (const t of tokens) {
    lines.push(`  - name: ${t.name}`, `    token: ${t.token}`, `    role: ${t.role}`);
    if (t.queues) lines.push(`    queues: [${t.queues.join(', ')}]`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

/** A stand-in OIDC provider: one ES256 key in a JWKS file; signs whatever claims a test wants. */
export class TestIssuer {
  readonly issuer = 'https://login.muster.test';
  readonly audience = 'muster-hub';
  readonly jwksFile: string;
  private readonly key: KeyObject;
  readonly privateKeyPem: string;

  constructor(dir: string) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = pair.privateKey;
    this.privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    this.jwksFile = join(dir, 'jwks.json');
    writeFileSync(
      this.jwksFile,
      JSON.stringify({
        keys: [
          { ...(pair.publicKey.export({ format: 'jwk' }) as object), kid: 'k1', alg: 'ES256' },
        ],
      }),
    );
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      MUSTER_OIDC_ISSUER: this.issuer,
      MUSTER_OIDC_AUDIENCE: this.audience,
      MUSTER_OIDC_JWKS_FILE: this.jwksFile,
      ...extra,
    };
  }

  /** A signed token; claims default to this issuer and audience, valid for 10 minutes. */
  token(claims: Record<string, unknown>, key: KeyObject = this.key): string {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'ES256', typ: 'JWT', kid: 'k1' })}.${b64({
      iss: this.issuer,
      aud: this.audience,
      iat: now,
      exp: now + 600,
      ...claims,
    })}`;
    const sig = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${sig.toString('base64url')}`;
  }
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The hub the way production runs it: TLS + client CA, bearer tokens (in `env`), no dev mode. */
export function secureHubOptions(
  pki: Pki,
  env: Record<string, string>,
): Pick<HubEnvironmentOptions, 'devInsecure' | 'tls' | 'env'> {
  return {
    devInsecure: false,
    tls: { caFile: pki.caFile, serverName: 'localhost' },
    env: {
      MUSTER_TLS_CERT_FILE: pki.hubCertFile,
      MUSTER_TLS_KEY_FILE: pki.hubKeyFile,
      MUSTER_TLS_CLIENT_CA_FILE: pki.caFile,
      ...env,
    },
  };
}

/** Runs the hub with `env` expecting it to refuse to start; resolves to its exit code and output. */
export function hubRefusal(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'apps/hub/dist/main.js')],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, MUSTER_GRPC_ADDR: '127.0.0.1:0', MUSTER_HTTP_PORT: '0', ...env },
        timeout: 60_000,
      },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? null) : 0,
          output: `${stdout}${stderr}`,
        }),
    );
  });
}

/** Lines of `text` holding any of `secrets` (or a telling part of a PEM key), for assertions. */
export function leaks(text: string, secrets: string[]): string[] {
  const needles = secrets.flatMap((s) => {
    if (!s.includes('PRIVATE KEY')) return [s];
    // The base64 body lines of a PEM key: any one of them in a log is a leak.
    return s
      .split('\n')
      .filter((l) => l.length >= 40 && !l.startsWith('-----'))
      .map((l) => l.trim());
  });
  return text.split('\n').filter((line) => needles.some((n) => n !== '' && line.includes(n)));
}
