// Which cluster an agent stream speaks for. Agents authenticate with a client certificate signed
// by the agent CA (MUSTER_TLS_CLIENT_CA_FILE); the cluster is the certificate's one SAN URI of
// the form muster://cluster/<name>. The common name is not used: a CA that also signs other
// certificates (people, services) cannot thereby make a cluster identity by accident.
import type { PeerCertificate } from 'node:tls';
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
// loaded before it.
import 'reflect-metadata';
import { SubjectAlternativeNameExtension, X509Certificate } from '@peculiar/x509';
import { dns1123LabelError } from '@muster/k8s';

export const CLUSTER_URI_PREFIX = 'muster://cluster/';
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

export type AgentIdentity =
  /** Verified by mutual TLS: the stream may act for this cluster only. */
  | { via: 'certificate'; cluster: string; subject: string }
  /** Development mode without a client CA: the stream may name any cluster. */
  | { via: 'insecure'; cluster: null };

/**
 * The URIs among the certificate's subject alternative names, read from its DER encoding: each
 * is one GeneralName, so no value can pass for two.
 */
export function subjectAltUris(der: Uint8Array): string[] {
  const san = new X509Certificate(der).getExtension(SubjectAlternativeNameExtension);
  return (san?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
}

/** The cluster a verified client certificate names, or why it names none. */
export function clusterOfCertificate(
  cert: PeerCertificate,
): { cluster: string } | { error: string } {
  if (Array.isArray(cert.ext_key_usage) && !cert.ext_key_usage.includes(CLIENT_AUTH_OID))
    return { error: 'the client certificate is not for client authentication' };
  let uris: string[];
  try {
    uris = cert.raw?.length ? subjectAltUris(cert.raw) : [];
  } catch {
    return { error: 'the client certificate cannot be parsed' };
  }
  const clusters = uris
    .filter((uri) => uri.startsWith(CLUSTER_URI_PREFIX))
    .map((uri) => uri.slice(CLUSTER_URI_PREFIX.length));
  if (clusters.length !== 1)
    return {
      error: `the client certificate must name exactly one cluster as a SAN URI ${CLUSTER_URI_PREFIX}<name>`,
    };
  const cluster = clusters[0]!;
  if (dns1123LabelError(cluster) !== undefined)
    return { error: 'the cluster named by the client certificate is not a DNS-1123 label' };
  return { cluster };
}

const identities = new WeakMap<object, AgentIdentity>();

export function bindAgentIdentity(call: object, identity: AgentIdentity): void {
  identities.set(call, identity);
}

export function agentIdentityOf(call: object): AgentIdentity | undefined {
  return identities.get(call);
}

/**
 * Checked by the agent gateway on hello: undefined when the stream may act for `cluster`,
 * else the reason it may not (the stream is then refused with PERMISSION_DENIED).
 */
export function helloClusterError(call: object, cluster: string): string | undefined {
  const identity = identities.get(call);
  if (!identity) return 'the stream has no verified agent identity';
  if (identity.via === 'insecure') return undefined;
  if (identity.cluster === cluster) return undefined;
  return `hello.cluster "${cluster}" does not match the cluster "${identity.cluster}" of the client certificate`;
}
