#!/usr/bin/env node
// muster-token-plugin: a tiny exec credential plugin (client.authentication.k8s.io) for the Cluster
// Inventory API, for the demo and the tests. A consumer (Argo CD, Kueue's MultiKueue, the
// clusterprofile-consumer.mjs example) runs it with KUBERNETES_EXEC_INFO describing the cluster it
// wants (its provider file entry needs "provideClusterInfo": true); the plugin looks the cluster's
// server URL up in a token file and prints an ExecCredential with that bearer token.
//
//   node muster-token-plugin.mjs --token-file /etc/muster/tokens.json
//
// Token file (JSON): { "https://10.0.0.1:6443": "<bearer token>", ... }
// The file may also come from $MUSTER_TOKEN_FILE or from the cluster's
// "client.authentication.k8s.io/exec" extension ({ "tokenFile": "..." }).
// Real deployments use a plugin of their platform (GKE, EKS, OCM cp-creds, secretreader) instead.
import { readFileSync } from 'node:fs';
import process from 'node:process';

function fail(message) {
  process.stderr.write(`muster-token-plugin: ${message}\n`);
  process.exit(1);
}

function tokenFileArg(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--token-file') return argv[i + 1];
    if (argv[i].startsWith('--token-file=')) return argv[i].slice('--token-file='.length);
  }
  return undefined;
}

const raw = process.env.KUBERNETES_EXEC_INFO;
if (!raw) fail('KUBERNETES_EXEC_INFO is not set; the provider needs "provideClusterInfo": true');
let info;
try {
  info = JSON.parse(raw);
} catch {
  fail('KUBERNETES_EXEC_INFO is not JSON');
}
const cluster = info?.spec?.cluster;
if (!cluster?.server) {
  fail(
    'KUBERNETES_EXEC_INFO has no spec.cluster.server; the provider needs "provideClusterInfo": true',
  );
}

const tokenFile =
  tokenFileArg(process.argv.slice(2)) ?? process.env.MUSTER_TOKEN_FILE ?? cluster.config?.tokenFile;
if (!tokenFile) fail('no token file: pass --token-file FILE or set MUSTER_TOKEN_FILE');

let tokens;
try {
  tokens = JSON.parse(readFileSync(tokenFile, 'utf8'));
} catch (err) {
  fail(`cannot read the token file ${tokenFile}: ${err.message}`);
}
const strip = (s) => String(s).replace(/\/+$/, '');
const wanted = strip(cluster.server);
const entry = Object.entries(tokens ?? {}).find(([server]) => strip(server) === wanted);
if (!entry || typeof entry[1] !== 'string' || entry[1] === '') {
  fail(`no token for ${cluster.server} in ${tokenFile}`);
}

process.stdout.write(
  JSON.stringify({
    apiVersion: info.apiVersion ?? 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: {
      token: entry[1],
      // Lets the client cache the token for a while instead of running the plugin per request.
      expirationTimestamp: new Date(Date.now() + 10 * 60_000).toISOString(),
    },
  }) + '\n',
);
