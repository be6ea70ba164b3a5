import type { PeerCertificate } from 'node:tls';
import {
  bindAgentIdentity,
  clusterOfCertificate,
  helloClusterError,
  parseSubjectAltName,
} from './agent-identity';

const cert = (san: string | undefined, eku?: string[]) =>
  ({ subjectaltname: san, ext_key_usage: eku }) as unknown as PeerCertificate;

describe('agent identity', () => {
  it('parses Node subjectaltname strings, quoted values included', () => {
    expect(
      parseSubjectAltName('DNS:a.example, URI:muster://cluster/x, IP Address:1.2.3.4'),
    ).toEqual([
      ['DNS', 'a.example'],
      ['URI', 'muster://cluster/x'],
      ['IP Address', '1.2.3.4'],
    ]);
    expect(parseSubjectAltName('URI:"muster://cluster/a, URI:muster://cluster/b", DNS:x')).toEqual([
      ['URI', 'muster://cluster/a, URI:muster://cluster/b'],
      ['DNS', 'x'],
    ]);
  });

  it('takes the cluster from exactly one muster://cluster/ URI', () => {
    expect(clusterOfCertificate(cert('URI:muster://cluster/gpu-east'))).toEqual({
      cluster: 'gpu-east',
    });
    expect(clusterOfCertificate(cert('DNS:gpu-east'))).toHaveProperty('error');
    expect(clusterOfCertificate(cert(undefined))).toHaveProperty('error');
    expect(
      clusterOfCertificate(cert('URI:muster://cluster/a, URI:muster://cluster/b')),
    ).toHaveProperty('error');
    expect(clusterOfCertificate(cert('URI:muster://cluster/Not_A_Label'))).toHaveProperty('error');
    // A quoted SAN value cannot smuggle a second identity in.
    expect(
      clusterOfCertificate(cert('URI:"muster://cluster/a, URI:muster://cluster/b"')),
    ).toHaveProperty('error');
  });

  it('requires client authentication when the certificate limits its use', () => {
    expect(
      clusterOfCertificate(cert('URI:muster://cluster/a', ['1.3.6.1.5.5.7.3.1'])),
    ).toHaveProperty('error');
    expect(clusterOfCertificate(cert('URI:muster://cluster/a', ['1.3.6.1.5.5.7.3.2']))).toEqual({
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
