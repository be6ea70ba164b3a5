// The Helm charts (infra/helm) rendered by Helm's own packages and sent to a real Kubernetes 1.36 API
// server (testbed): every object passes a server-side apply dry run with strict field validation,
// the rendered settings pass the hub's and the agent's own config checks, and the agent chart's
// RBAC, created for real, grants its service account exactly what infra/deploy/agent grants.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { loadAgentConfig } from '../../apps/agent/src/config';
import { loadHubConfig } from '../../apps/hub/src/config/hub-config';
import { ensureGoBinary, startTestbed, type Testbed } from '../../infra/testbed/src';
import { Kube } from '../agent/support/kube';
import { REPO_ROOT } from '../support/hub-process';
import {
  AGENT_CHART,
  HELM_RENDER,
  HUB_CHART,
  lintErrors,
  render,
  type KubeObject,
  type Rendered,
} from './helm-render';

const SETUP_TIMEOUT = 45 * 60_000;
const HUB = { release: 'muster-hub', namespace: 'muster' };
const AGENT = { release: 'muster-agent', namespace: 'muster-system' };
const AGENT_SA = 'system:serviceaccount:muster-system:muster-agent';
const HUB_SA = 'system:serviceaccount:muster:muster-hub';
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

/** A production hub: TLS with client CA, static tokens, OIDC, a management cluster, 3 replicas. */
const HUB_PRODUCTION = {
  replicaCount: 3,
  tls: { secretName: 'muster-hub-tls' },
  auth: { tokensSecret: { name: 'muster-hub-tokens', key: 'tokens.yaml' } },
  oidc: { jwksConfigMap: { name: 'muster-oidc-jwks', key: 'jwks.json' } },
  inventory: { kubeconfigSecret: { name: 'muster-management', key: 'kubeconfig' } },
  settings: {
    MUSTER_OIDC_ISSUER: 'https://login.example.com/realms/muster',
    MUSTER_OIDC_AUDIENCE: 'muster',
    MUSTER_PRIORITY_CLASSES: 'low=0,normal=100,high=1000',
    MUSTER_PRUNE_INTERVAL_MS: 7_200_000,
    MUSTER_LOG_LEVEL: 'debug',
  },
};

/** A hub inside the management cluster: its own ServiceAccount and RBAC, no kubeconfig Secret. */
const HUB_IN_MANAGEMENT = {
  tls: { secretName: 'muster-hub-tls' },
  inventory: { inCluster: true },
  rbac: { create: true },
};

const AGENT_VALUES = {
  tls: { secretName: 'muster-agent-tls' },
  settings: { MUSTER_CLUSTER: 'gpu-east', MUSTER_HUB: 'muster-hub.muster.svc:50051' },
};

let tb: Testbed;
let kube: Kube;
let dir: string;
const files: Record<string, string> = {};

function valuesFile(name: string, values: unknown): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(values));
  return file;
}

type EnvVar = { name: string; value?: string; valueFrom?: unknown };
type Container = {
  env: EnvVar[];
  volumeMounts: { name: string; mountPath: string }[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
};
type PodSpec = { containers: Container[]; volumes: { name: string }[] };
type Deployment = KubeObject & { spec: { replicas: number; template: { spec: PodSpec } } };

function only<T extends KubeObject>(r: Rendered, kind: string): T {
  const found = r.objects.filter((o) => o.kind === kind);
  expect(found.map((o) => o.kind)).toEqual([kind]);
  return found[0] as T;
}

/** The container's plain environment, with each variable from a Secret given `fromSecret`. */
function envOf(d: Deployment, fromSecret: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of d.spec.template.spec.containers[0]!.env) {
    env[e.name] = e.value ?? fromSecret[e.name] ?? `<${JSON.stringify(e.valueFrom)}>`;
  }
  return env;
}

/** The API path of an object, from the server's discovery (so the plural and scope are its own). */
const discovery = new Map<string, { name: string; kind: string; namespaced: boolean }[]>();
async function objectPath(o: KubeObject, namespace: string): Promise<string> {
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  let resources = discovery.get(base);
  if (!resources) {
    resources = (
      await kube.json<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(
        'GET',
        base,
      )
    ).resources;
    discovery.set(base, resources);
  }
  const r = resources.find((x) => x.kind === o.kind && !x.name.includes('/'));
  if (!r) throw new Error(`${o.apiVersion} ${o.kind} is not served`);
  const ns = o.metadata.namespace ?? namespace;
  return r.namespaced
    ? `${base}/namespaces/${ns}/${r.name}/${o.metadata.name}`
    : `${base}/${r.name}/${o.metadata.name}`;
}

/** Server-side apply of every object, as `helm install` sends them; status and message per object. */
async function apply(r: Rendered, namespace: string, dryRun: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const o of r.objects) {
    const query = `fieldManager=muster-helm-test&fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`;
    const res = await kube.request<{ message?: string }>(
      'PATCH',
      `${await objectPath(o, namespace)}?${query}`,
      o,
      'application/apply-patch+yaml',
    );
    const ok = res.status === 200 || res.status === 201;
    out.push(`${o.kind}/${o.metadata.name}: ${ok ? 'ok' : `${res.status} ${res.body.message}`}`);
  }
  return out;
}

function allowed(
  user: string,
  verb: string,
  resource: string,
  group: string,
  namespace: string,
): Promise<boolean> {
  return kube.allowed(user, verb, resource, group, namespace);
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'muster-helm-'));
  files.hubProduction = valuesFile('hub-production', HUB_PRODUCTION);
  files.hubInManagement = valuesFile('hub-in-management', HUB_IN_MANAGEMENT);
  files.agent = valuesFile('agent', AGENT_VALUES);
  // A cold build of the renderer takes minutes: here, under the setup timeout, beside the cluster.
  const [testbed] = await Promise.all([
    startTestbed(
      {
        clusters: [
          {
            name: 'helm',
            role: 'worker',
            nodePools: [
              { name: 'cpu', count: 1, resources: { cpu: 8, memory: '32Gi', pods: 110 } },
            ],
          },
        ],
      },
      { log: () => undefined },
    ),
    ensureGoBinary(HELM_RENDER),
  ]);
  tb = testbed;
  kube = new Kube(tb.cluster('helm'));
  for (const ns of ['muster', 'muster-system', 'muster-inventory', 'team-a'])
    await kube.ensureNamespace(ns);
}, SETUP_TIMEOUT);

afterAll(async () => {
  kube?.close();
  await tb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('lint', () => {
  it.each([
    ['muster-hub, defaults', HUB_CHART, () => []],
    ['muster-hub, production values', HUB_CHART, () => [files.hubProduction!]],
    ['muster-hub, in the management cluster', HUB_CHART, () => [files.hubInManagement!]],
    ['muster-agent, defaults', AGENT_CHART, () => []],
    ['muster-agent, values', AGENT_CHART, () => [files.agent!]],
  ])('%s: no errors', async (_name, chart, values) => {
    const r = await render(chart, { ...HUB, values: values() });
    expect(lintErrors(r)).toEqual([]);
  });
});

describe('muster-hub', () => {
  it('defaults: two replicas, every setting as a variable, Postgres and Redis from Secrets', async () => {
    const r = await render(HUB_CHART, HUB);
    expect(r.error).toBeUndefined();
    const d = only<Deployment>(r, 'Deployment');
    expect(d.spec.replicas).toBe(2);
    const defaults = (
      parse(readFileSync(join(HUB_CHART, 'values.yaml'), 'utf8')) as {
        settings: Record<string, unknown>;
      }
    ).settings;
    const env = envOf(d);
    for (const [name, value] of Object.entries(defaults)) {
      if (value === '') continue;
      expect([name, env[name]]).toEqual([name, String(value)]);
    }
    // Whole numbers stay whole (a values file gives them as floats).
    expect(env.MUSTER_PRUNE_INTERVAL_MS).toBe('3600000');
    const fromSecret = d.spec.template.spec.containers[0]!.env.filter((e) => e.valueFrom);
    expect(fromSecret).toEqual([
      {
        name: 'MUSTER_DATABASE_URL',
        valueFrom: { secretKeyRef: { name: 'muster-hub-database', key: 'url' } },
      },
      {
        name: 'MUSTER_REDIS_URL',
        valueFrom: { secretKeyRef: { name: 'muster-hub-redis', key: 'url' } },
      },
    ]);
    const c = d.spec.template.spec.containers[0]!;
    expect(c.ports).toEqual([
      { name: 'grpc', containerPort: 50051, protocol: 'TCP' },
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const svc = only<KubeObject & { spec: { ports: { name: string; port: number }[] } }>(
      r,
      'Service',
    );
    expect(svc.spec.ports.map((p) => [p.name, p.port])).toEqual([
      ['grpc', 50051],
      ['http', 8080],
    ]);
    expect(r.objects.map((o) => o.kind)).not.toContain('ClusterRole');
  });

  it('production values: files mounted where the settings point, accepted by the hub config', async () => {
    const r = await render(HUB_CHART, { ...HUB, values: [files.hubProduction!] });
    expect(r.error).toBeUndefined();
    const d = only<Deployment>(r, 'Deployment');
    expect(d.spec.replicas).toBe(3);
    const env = envOf(d, {
      MUSTER_DATABASE_URL: 'postgres://muster@postgres.db:5432/muster',
      MUSTER_REDIS_URL: 'redis://redis.db:6379',
    });
    expect(env).toMatchObject({
      MUSTER_TLS_CERT_FILE: '/etc/muster/tls/tls.crt',
      MUSTER_TLS_KEY_FILE: '/etc/muster/tls/tls.key',
      MUSTER_TLS_CLIENT_CA_FILE: '/etc/muster/tls/ca.crt',
      MUSTER_AUTH_TOKENS_FILE: '/etc/muster/auth/tokens.yaml',
      MUSTER_OIDC_JWKS_FILE: '/etc/muster/oidc/jwks.json',
      MUSTER_INVENTORY_KUBECONFIG: '/etc/muster/inventory/kubeconfig',
      MUSTER_PRUNE_INTERVAL_MS: '7200000',
    });
    // Every file a setting names lies in a mounted volume.
    const spec = d.spec.template.spec;
    const mounts = spec.containers[0]!.volumeMounts;
    for (const file of Object.values(env).filter((v) => v.startsWith('/etc/muster/'))) {
      const mount = mounts.find((m) => file.startsWith(`${m.mountPath}/`));
      expect([file, mount && spec.volumes.some((v) => v.name === mount.name)]).toEqual([
        file,
        true,
      ]);
    }
    // The hub's own schema and cross-checks accept what the chart sets.
    const config = loadHubConfig(env);
    expect(config.grpcAddress).toBe('0.0.0.0:50051');
    expect(config.oidc?.issuer).toBe(HUB_PRODUCTION.settings.MUSTER_OIDC_ISSUER);
    expect([...config.priorityClasses]).toEqual([
      ['low', 0],
      ['normal', 100],
      ['high', 1000],
    ]);
  });

  it.each([
    ['defaults', () => []],
    ['production values', () => [files.hubProduction!]],
    ['in the management cluster', () => [files.hubInManagement!]],
  ])('%s: the API server takes every object (server-side apply, dry run)', async (_n, values) => {
    const r = await render(HUB_CHART, { ...HUB, values: values() });
    expect(r.error).toBeUndefined();
    const results = await apply(r, HUB.namespace, true);
    expect(results.filter((x) => !x.endsWith(': ok'))).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(4);
  });

  it('the dry run catches what the values schema cannot see: a mistyped field in a pass-through value', async () => {
    const values = valuesFile('hub-bad-volume', {
      extraVolumes: [{ name: 'scratch', emptyDri: {} }],
      extraVolumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
    });
    const r = await render(HUB_CHART, { ...HUB, values: [values] });
    expect(r.error).toBeUndefined();
    const failed = (await apply(r, HUB.namespace, true)).filter((x) => !x.endsWith(': ok'));
    expect(failed).toEqual([
      expect.stringMatching(/^Deployment\/muster-hub: .*emptyDri: field not declared in schema/),
    ]);
  });

  it('in the management cluster: its RBAC, created for real, covers the inventory and workloads only', async () => {
    const r = await render(HUB_CHART, { ...HUB, values: [files.hubInManagement!] });
    const rbac = {
      ...r,
      objects: r.objects.filter((o) =>
        ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(
          o.kind,
        ),
      ),
    };
    expect(rbac.objects.map((o) => o.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
    // The same rules as infra/deploy/hub, which the front door's end-to-end test runs the hub with.
    const deployed = parseAllDocuments(
      readFileSync(join(REPO_ROOT, 'infra/deploy/hub/rbac.yaml'), 'utf8'),
    ).map((doc) => doc.toJSON() as KubeObject & { rules?: Rule[] });
    for (const kind of ['Role', 'ClusterRole']) {
      const want = deployed.find((o) => o.kind === kind)!.rules;
      expect([kind, only<KubeObject & { rules: Rule[] }>(rbac, kind).rules]).toEqual([kind, want]);
    }
    expect((await apply(rbac, HUB.namespace, false)).filter((x) => !x.endsWith(': ok'))).toEqual(
      [],
    );
    const can = (verb: string, resource: string, group: string, ns: string) =>
      allowed(HUB_SA, verb, resource, group, ns);
    const mc = 'multicluster.x-k8s.io';
    const checks: [boolean, string, string, string, string][] = [
      [true, 'create', 'clusterprofiles', mc, 'muster-inventory'],
      [true, 'patch', 'clusterprofiles/status', mc, 'muster-inventory'],
      [true, 'delete', 'placementdecisions', mc, 'muster-inventory'],
      [false, 'create', 'clusterprofiles', mc, 'team-a'],
      [false, 'update', 'clusterprofiles', mc, 'muster-inventory'],
      [true, 'create', 'namespaces', '', ''],
      [false, 'delete', 'namespaces', '', ''],
      [true, 'patch', 'jobs', 'batch', 'team-a'],
      [true, 'patch', 'jobs/status', 'batch', 'team-a'],
      [false, 'create', 'jobs', 'batch', 'team-a'],
      [true, 'watch', 'pytorchjobs', 'kubeflow.org', 'team-a'],
      [true, 'patch', 'rayclusters/status', 'ray.io', 'team-a'],
      [true, 'list', 'leaderworkersets', 'leaderworkerset.x-k8s.io', 'team-a'],
      [true, 'create', 'events', '', 'team-a'],
      [false, 'get', 'secrets', '', 'muster'],
      [false, 'create', 'pods', '', 'team-a'],
    ];
    for (const [want, verb, resource, group, ns] of checks) {
      expect([verb, resource, ns, await can(verb, resource, group, ns)]).toEqual([
        verb,
        resource,
        ns,
        want,
      ]);
    }
  });
});

describe('muster-agent', () => {
  it('renders one Recreate replica with the client certificate, accepted by the agent config', async () => {
    const r = await render(AGENT_CHART, { ...AGENT, values: [files.agent!] });
    expect(r.error).toBeUndefined();
    const d = only<Deployment & { spec: { strategy: { type: string } } }>(r, 'Deployment');
    expect([d.spec.replicas, d.spec.strategy.type]).toEqual([1, 'Recreate']);
    const env = envOf(d);
    expect(env).toMatchObject({
      MUSTER_CLUSTER: 'gpu-east',
      MUSTER_HUB: 'muster-hub.muster.svc:50051',
      MUSTER_TLS_CERT_FILE: '/etc/muster/tls/tls.crt',
      MUSTER_TLS_KEY_FILE: '/etc/muster/tls/tls.key',
      MUSTER_TLS_CA_FILE: '/etc/muster/tls/ca.crt',
    });
    expect(env.KUBECONFIG).toBeUndefined();
    // Kubernetes sets KUBERNETES_SERVICE_HOST in the pod.
    const config = loadAgentConfig({ ...env, KUBERNETES_SERVICE_HOST: '10.96.0.1' });
    expect([config.cluster, config.hubAddress, config.tlsCertFile]).toEqual([
      'gpu-east',
      'muster-hub.muster.svc:50051',
      '/etc/muster/tls/tls.crt',
    ]);
    const results = await apply(r, AGENT.namespace, true);
    expect(results.filter((x) => !x.endsWith(': ok'))).toEqual([]);
  });

  it("grants its service account exactly infra/deploy/agent's permissions", async () => {
    const deployed = parseAllDocuments(
      readFileSync(join(REPO_ROOT, 'infra/deploy/agent/clusterrole.yaml'), 'utf8'),
    ).map((doc) => doc.toJSON() as KubeObject & { rules: Rule[] })[0]!;
    const r = await render(AGENT_CHART, { ...AGENT, values: [files.agent!] });
    const chartRole = only<KubeObject & { rules: Rule[] }>(r, 'ClusterRole');
    expect(chartRole.metadata.name).toBe('muster-agent');
    expect(chartRole.rules).toEqual(deployed.rules);

    const rbac = {
      ...r,
      objects: r.objects.filter((o) =>
        ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind),
      ),
    };
    expect((await apply(rbac, AGENT.namespace, false)).filter((x) => !x.endsWith(': ok'))).toEqual(
      [],
    );
    // Every verb on every resource the deployed role names: allowed exactly when it lists it.
    for (const rule of deployed.rules) {
      for (const resource of rule.resources) {
        for (const verb of VERBS) {
          const got = await allowed(AGENT_SA, verb, resource, rule.apiGroups[0]!, 'team-a');
          expect([resource, verb, got]).toEqual([resource, verb, rule.verbs.includes(verb)]);
        }
      }
    }
    for (const [verb, resource, group] of [
      ['get', 'secrets', ''],
      ['list', 'configmaps', ''],
      ['create', 'pods/eviction', ''],
      ['list', 'jobs', 'batch'],
    ] as const) {
      expect([verb, resource, await allowed(AGENT_SA, verb, resource, group, 'team-a')]).toEqual([
        verb,
        resource,
        false,
      ]);
    }
  });
});

describe('bad values fail with a message that names them', () => {
  it.each([
    [
      'replicaCount: "two"',
      HUB_CHART,
      { replicaCount: 'two' },
      "at '/replicaCount': got string, want integer",
    ],
    [
      'an unknown setting',
      HUB_CHART,
      { settings: { MUSTER_NO_SUCH: 1 } },
      "additional properties 'MUSTER_NO_SUCH' not allowed",
    ],
    [
      'a port out of range',
      HUB_CHART,
      { settings: { MUSTER_HTTP_PORT: 99999 } },
      "at '/settings/MUSTER_HTTP_PORT': maximum",
    ],
    [
      'a choice not offered',
      HUB_CHART,
      { settings: { MUSTER_PLACEMENT_POLICY: 'random' } },
      "at '/settings/MUSTER_PLACEMENT_POLICY'",
    ],
    [
      'a mistyped chart value',
      HUB_CHART,
      { tls: { secretname: 'x' } },
      "additional properties 'secretname' not allowed",
    ],
    [
      'an unknown agent setting',
      AGENT_CHART,
      { settings: { MUSTER_CLUSTR: 'x' } },
      "additional properties 'MUSTER_CLUSTR' not allowed",
    ],
    [
      'the agent without its cluster',
      AGENT_CHART,
      { settings: { MUSTER_HUB: 'hub:50051' } },
      'settings.MUSTER_CLUSTER is required',
    ],
  ])('%s', async (name, chart, values, message) => {
    const r = await render(chart, {
      ...HUB,
      values: [valuesFile(name.replace(/\W+/g, '-'), values)],
    });
    expect(r.objects).toEqual([]);
    expect(r.error).toContain(message);
  });
});
