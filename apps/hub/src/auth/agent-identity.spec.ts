import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { bindAgentIdentity, clusterOfCertificate, helloClusterError } from './agent-identity';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'muster-agent-identity-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A certificate made by the openssl CLI, as infra/pki/issue.mjs makes agents' certificates, with
 * these SAN entries ("URI:…", "DNS:…"; each one GeneralName, commas and all), seen as TLS hands
 * it to the hub.
 */
function cert(san: string[] | undefined, extendedKeyUsage?: string): PeerCertificate {
  const config = [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    'CN = agent',
    '[leaf]',
    'basicConstraints = critical,CA:FALSE',
    ...(extendedKeyUsage ? [`extendedKeyUsage = ${extendedKeyUsage}`] : []),
    ...(san
      ? ['subjectAltName = @alt', '[alt]', ...san.map((e, i) => e.replace(':', `.${i} = `))]
      : []),
  ];
  const file = join(dir, 'leaf.cnf');
  writeFileSync(file, `${config.join('\n')}\n`);
  const pem = execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      '/dev/null',
      '-days',
      '1',
      '-config',
      file,
      '-extensions',
      'leaf',
    ],
    { stdio: 'pipe' },
  ).toString();
  const x = new X509Certificate(pem);
  return {
    raw: x.raw,
    subjectaltname: x.subjectAltName,
    ext_key_usage: x.keyUsage,
  } as unknown as PeerCertificate;
}

describe('agent identity', () => {
  it('takes the cluster from exactly one muster://cluster/ URI', () => {
    expect(clusterOfCertificate(cert(['URI:muster://cluster/gpu-east']))).toEqual({
      cluster: 'gpu-east',
    });
    expect(clusterOfCertificate(cert(['DNS:gpu-east']))).toHaveProperty('error');
    expect(clusterOfCertificate(cert(undefined))).toEqual({
      error:
        'the client certificate must name exactly one cluster as a SAN URI muster://cluster/<name>',
    });
    expect(
      clusterOfCertificate(cert(['URI:muster://cluster/a', 'URI:muster://cluster/b'])),
    ).toHaveProperty('error');
    expect(clusterOfCertificate(cert(['URI:muster://cluster/Not_A_Label']))).toEqual({
      error: 'the cluster named by the client certificate is not a DNS-1123 label',
    });
  });

  it('reads a URI holding ", URI:" as the one name it is: it cannot smuggle a second identity in', () => {
    const one = cert(['URI:muster://cluster/a, URI:muster://cluster/b']);
    // Node's summary string quotes it; the DER has a single GeneralName either way.
    expect(one.subjectaltname).toContain('URI:"muster://cluster/a');
    expect(clusterOfCertificate(one)).toEqual({
      error: 'the cluster named by the client certificate is not a DNS-1123 label',
    });
    const smuggled = cert(['URI:https://agents.example.test/x?, URI:muster://cluster/b']);
    expect(clusterOfCertificate(smuggled)).toHaveProperty('error');
    expect(
      clusterOfCertificate(cert(['URI:https://x.test/a, URI:b', 'URI:muster://cluster/c'])),
    ).toEqual({ cluster: 'c' });
  });

  it('ignores other URIs and names, but not a second cluster URI', () => {
    expect(
      clusterOfCertificate(
        cert([
          'DNS:agent.example.test',
          'URI:spiffe://example.test/ns/muster/sa/agent',
          'URI:muster://cluster/gpu-west',
          'IP:10.0.0.1',
          'email:ops@example.test',
        ]),
      ),
    ).toEqual({ cluster: 'gpu-west' });
    expect(
      clusterOfCertificate(
        cert(['URI:muster://cluster/a', 'URI:spiffe://x.test/a', 'URI:muster://cluster/a']),
      ),
    ).toHaveProperty('error');
  });

  it('does not take a DNS name or an email address that looks like a cluster URI', () => {
    expect(clusterOfCertificate(cert(['DNS:muster://cluster/a']))).toHaveProperty('error');
    expect(clusterOfCertificate(cert(['email:muster://cluster/a']))).toHaveProperty('error');
    expect(
      clusterOfCertificate(cert(['DNS:muster://cluster/b', 'URI:muster://cluster/a'])),
    ).toEqual({ cluster: 'a' });
  });

  it('refuses a certificate it cannot parse', () => {
    const garbage = { raw: Buffer.from('not DER') } as unknown as PeerCertificate;
    expect(clusterOfCertificate(garbage)).toEqual({
      error: 'the client certificate cannot be parsed',
    });
  });

  it('requires client authentication when the certificate limits its use', () => {
    expect(clusterOfCertificate(cert(['URI:muster://cluster/a'], 'serverAuth'))).toHaveProperty(
      'error',
    );
    expect(clusterOfCertificate(cert(['URI:muster://cluster/a'], 'clientAuth'))).toEqual({
      cluster: 'a',
    });
  });

  it('lets a stream say hello only for its own cluster', () => {
    const call = {};
    expect(helloClusterError(call, 'a')).toMatch(/no verified agent identity/);
    bindAgentIdentity(call, { via: 'certificate', cluster: 'a', subject: 'x' });
    expect(helloClusterError(call, 'a')).toBeUndefined();
    expect(helloClusterError(call, 'b')).toMatch(/does not match/);
    const dev = {};
    bindAgentIdentity(dev, { via: 'insecure', cluster: null });
    expect(helloClusterError(dev, 'anything')).toBeUndefined();
  });
});
