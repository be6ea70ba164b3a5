// The real agent (apps/agent) over mutual TLS to a hub started as in production, against a real
// Kubernetes API server (infra/testbed): with its cluster's certificate it connects and reports
// capacity; with another cluster's certificate, or none, it never gets in.
import { randomUUID } from 'node:crypto';
import { AgentState, type HubClients } from '@muster/api';
import { startTestbed, type Testbed } from '../../infra/testbed/src';
import { workerTopology } from '../agent/support/fixtures';
import { AgentProcess } from '../support/agent-process';
import { eventually } from '../support/fake-agent';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import {
  issuePki,
  leaks,
  secureHubOptions,
  tempDir,
  writeTokensFile,
  type Pki,
} from '../support/security';

const ADMIN = `adm-${randomUUID()}`;
const SETUP_TIMEOUT = 10 * 60_000;

let dir: ReturnType<typeof tempDir>;
let pki: Pki;
let tb: Testbed;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents: AgentProcess[] = [];

function agent(cluster: string, env: Record<string, string>): AgentProcess {
  const a = AgentProcess.start({
    cluster,
    hub: hub.grpcAddress,
    kubeconfig: tb.cluster('tls-w1').kubeconfigPath,
    env: { MUSTER_RECONNECT_INITIAL_MS: '100', MUSTER_RECONNECT_MAX_MS: '500', ...env },
  });
  agents.push(a);
  return a;
}

const tlsEnv = (certOf: string) => ({
  MUSTER_TLS_CA_FILE: pki.caFile,
  MUSTER_TLS_CERT_FILE: pki.agentCertFile(certOf),
  MUSTER_TLS_KEY_FILE: pki.agentKeyFile(certOf),
});

async function cluster(name: string) {
  return (await api.inventory.getCluster({ name })).cluster!;
}

beforeAll(async () => {
  dir = tempDir('muster-sec-agent-tls-');
  pki = issuePki(`${dir.path}/pki`, ['tls-w1', 'tls-other']);
  tb = await startTestbed(workerTopology('tls-w1', 2), { log: () => undefined });
  env = await startHubEnvironment({
    ...secureHubOptions(pki, {
      MUSTER_AUTH_TOKENS_FILE: writeTokensFile(dir.path, [
        { name: 'ops', token: ADMIN, role: 'admin' },
      ]),
    }),
    client: { token: ADMIN },
  });
  ({ hub, api } = env);
  for (const name of ['tls-w1', 'tls-other'])
    await api.inventory.registerCluster({
      name,
      displayName: '',
      clusterSet: '',
      topologyLevels: [],
      accessProviders: [],
      labels: {},
    });
}, SETUP_TIMEOUT);

afterAll(async () => {
  if (process.env.MUSTER_TEST_HUB_LOGS === '1') {
    console.log(hub?.logs.filter((l) => !l.includes('"level":"info"')).join('\n'));
    for (const a of agents) console.log(a.tail(60));
  }
  await Promise.all(agents.map((a) => a.kill()));
  try {
    await env?.stop();
  } finally {
    await tb?.stop();
    dir?.remove();
  }
});

it('connects with its cluster’s certificate and reports capacity', async () => {
  const a = agent('tls-w1', tlsEnv('tls-w1'));
  const c = await eventually(
    'tls-w1 connected with capacity',
    async () => {
      const got = await cluster('tls-w1');
      return got.agentState === AgentState.AGENT_STATE_CONNECTED &&
        (got.capacity?.nodeCount ?? 0) === 2
        ? got
        : undefined;
    },
    60_000,
  );
  expect(c.agentVersion).not.toBe('');
  await a.kill();
});

it('never gets in with another cluster’s certificate, or without one', async () => {
  const impostor = agent('tls-other', tlsEnv('tls-w1'));
  const anonymous = agent('tls-other', { MUSTER_TLS_CA_FILE: pki.caFile });
  const refusals = () => ({
    impostor: hub.logs.filter((l) => l.includes('does not match the cluster \\"tls-w1\\"')).length,
    anonymous: hub.logs.filter((l) => l.includes('no verified client certificate')).length,
  });
  const first = await eventually('both refused at least once', () => {
    const r = refusals();
    return r.impostor > 0 && r.anonymous > 0 ? r : undefined;
  });
  expect((await cluster('tls-other')).agentState).toBe(AgentState.AGENT_STATE_NEVER_CONNECTED);
  // Still out after redialling a few times (backoff at most 500 ms).
  await eventually('both refused three more times', () => {
    const r = refusals();
    return r.impostor >= first.impostor + 3 && r.anonymous >= first.anonymous + 3 ? r : undefined;
  });
  expect((await cluster('tls-other')).agentState).toBe(AgentState.AGENT_STATE_NEVER_CONNECTED);
  expect(impostor.running && anonymous.running).toBe(true); // they keep redialling, harmlessly
  expect(leaks(hub.logs.join('\n'), [ADMIN, ...pki.privateKeys()])).toEqual([]);
});
