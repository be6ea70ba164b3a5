// What the CLI sends and how it connects, seen from the server side: a small stand-in hub
// records the metadata of each call and serves plain text, TLS or mutual TLS. (The real hub does
// not check tokens yet.)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { JobServiceService, JobState, type GetJobRequest, type GetJobResponse } from '@muster/api';
import { CliSandbox } from './support/cli-process';

const JOB_ID = '0b0c4a8e-5f4e-4d2b-9a57-8c1f2e3d4a5b';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('openssl is not installed; the TLS tests of the CLI are skipped');

class StandInHub {
  readonly authorizations: (string | undefined)[] = [];
  private server = new Server();
  port = 0;

  async start(credentials: ServerCredentials): Promise<this> {
    this.server.addService(JobServiceService, {
      getJob: (
        call: ServerUnaryCall<GetJobRequest, GetJobResponse>,
        callback: sendUnaryData<GetJobResponse>,
      ) => {
        const auth = call.metadata.get('authorization')[0];
        this.authorizations.push(typeof auth === 'string' ? auth : undefined);
        if (call.request.jobId !== JOB_ID) {
          callback({ code: status.NOT_FOUND, details: `job "${call.request.jobId}" not found` });
          return;
        }
        callback(null, {
          job: {
            id: JOB_ID,
            spec: undefined,
            state: JobState.JOB_STATE_QUEUED,
            reason: 'Submitted',
            message: '',
            cluster: '',
            dispatchGeneration: 0,
            members: undefined,
            clientRequestId: '',
            createdAt: new Date(),
            updatedAt: new Date(),
            restarts: 0,
          },
        });
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

describe('the token', () => {
  let hub: StandInHub;
  beforeAll(async () => (hub = await new StandInHub().start(ServerCredentials.createInsecure())));
  afterAll(() => hub.stop());

  it('is sent as "authorization: Bearer" from the context, MUSTER_TOKEN or --token, and not at all without one', async () => {
    const cli = new CliSandbox(undefined);
    expect(
      (
        await cli.run([
          'config',
          'set-context',
          'standin',
          '--hub',
          `127.0.0.1:${hub.port}`,
          '--token',
          'from-context',
        ])
      ).code,
    ).toBe(0);
    expect((await cli.run(['get', JOB_ID])).code).toBe(0);
    expect((await cli.run(['get', JOB_ID], { env: { MUSTER_TOKEN: 'from-env' } })).code).toBe(0);
    expect(
      (
        await cli.run(['get', JOB_ID, '--token', 'from-flag'], {
          env: { MUSTER_TOKEN: 'from-env' },
        })
      ).code,
    ).toBe(0);
    const bare = new CliSandbox(`127.0.0.1:${hub.port}`);
    expect((await bare.run(['get', JOB_ID])).code).toBe(0);
    expect(hub.authorizations).toEqual([
      'Bearer from-context',
      'Bearer from-env',
      'Bearer from-flag',
      undefined,
    ]);
  });
});

(hasOpenssl ? describe : describe.skip)('TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'muster-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let tlsHub: StandInHub;
  let mtlsHub: StandInHub;

  beforeAll(async () => {
    // One self-signed certificate for localhost serves as CA, server and client certificate.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const pair = [{ private_key: readFileSync(key), cert_chain: readFileSync(cert) }];
    tlsHub = await new StandInHub().start(ServerCredentials.createSsl(null, pair, false));
    mtlsHub = await new StandInHub().start(
      ServerCredentials.createSsl(readFileSync(cert), pair, true),
    );
  });
  afterAll(async () => {
    await tlsHub?.stop();
    await mtlsHub?.stop();
  });

  it('verifies the hub with the context CA file, or skips verification with --insecure', async () => {
    const cli = new CliSandbox(undefined);
    expect(
      (
        await cli.run([
          'config',
          'set-context',
          'tls',
          '--hub',
          `localhost:${tlsHub.port}`,
          '--ca-file',
          cert,
        ])
      ).code,
    ).toBe(0);
    let r = await cli.run(['get', JOB_ID, '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).id).toBe(JOB_ID);

    // Without the CA file, the system's CAs do not trust the self-signed certificate...
    expect(
      (
        await cli.run([
          'config',
          'set-context',
          'untrusted',
          '--hub',
          `localhost:${tlsHub.port}`,
          '--tls',
        ])
      ).code,
    ).toBe(0);
    r = await cli.run(['--context', 'untrusted', 'get', JOB_ID]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the hub at localhost:${tlsHub.port}`);
    // ...unless verification is turned off.
    expect((await cli.run(['config', 'set-context', 'untrusted', '--insecure'])).code).toBe(0);
    expect(parse((await cli.run(['config', 'view'])).stdout).contexts[1]).toEqual({
      name: 'untrusted',
      hub: `localhost:${tlsHub.port}`,
      tls: { insecure: true },
    });
    r = await cli.run(['--context', 'untrusted', 'get', JOB_ID]);
    expect(r.code).toBe(0);

    // ...and plain text to a TLS hub fails, naming the hub.
    expect((await cli.run(['config', 'set-context', 'tls', '--plaintext'])).code).toBe(0);
    r = await cli.run(['--context', 'tls', 'get', JOB_ID]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `cannot reach the hub at localhost:${tlsHub.port} (from context "tls"`,
    );
  });

  it('presents a client certificate for mutual TLS', async () => {
    const cli = new CliSandbox(undefined);
    const hubAddress = `localhost:${mtlsHub.port}`;
    expect(
      (
        await cli.run([
          'config',
          'set-context',
          'mtls',
          '--hub',
          hubAddress,
          '--ca-file',
          cert,
          '--cert-file',
          cert,
          '--key-file',
          key,
        ])
      ).code,
    ).toBe(0);
    expect((await cli.run(['get', JOB_ID])).code).toBe(0);
    // The same hub refuses a client without a certificate.
    expect(
      (
        await cli.run([
          'config',
          'set-context',
          'no-client-cert',
          '--hub',
          hubAddress,
          '--ca-file',
          cert,
        ])
      ).code,
    ).toBe(0);
    expect((await cli.run(['--context', 'no-client-cert', 'get', JOB_ID])).code).toBe(1);
    // A key without its certificate is a configuration mistake, told as such.
    const r = await cli.run([
      'config',
      'set-context',
      'half',
      '--hub',
      hubAddress,
      '--key-file',
      key,
    ]);
    expect([r.code, r.stderr]).toEqual([
      2,
      'error: --cert-file and --key-file go together; give both\n',
    ]);
  });
});
