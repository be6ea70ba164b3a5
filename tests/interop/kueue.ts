// Kueue as the interop tests run it: the manager built from the sigs.k8s.io/kueue Go module
// (infra/interop/kueue), its CRDs and webhook configurations taken from that module's config/,
// and one manager process per cluster, as a plain process next to the testbed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  findGo,
  kubeJSON,
  kubeRequest,
  type GoProgram,
  type KubeEndpoint,
} from '../../infra/testbed/src';
import { yamlDocuments } from '../cluster-profiles/management-cluster';
import { eventually } from '../support/eventually';
import { REPO_ROOT } from '../support/hub-process';

/** Kueue's manager; tools/test-all.sh builds the same program (`testbed build --module`). */
export const KUEUE_MANAGER: GoProgram = {
  name: 'kueue',
  moduleDir: join(REPO_ROOT, 'infra/interop/kueue'),
  pkg: './cmd/kueue',
  overrideEnv: 'MUSTER_KUEUE_BIN',
  coldBuild: '~12 min on 2 cores',
};

export const KUEUE_API = '/apis/kueue.x-k8s.io/v1beta2';
const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/** The directory of the sigs.k8s.io/kueue module the wrapper pins (in the Go module cache). */
export function kueueModuleDir(): string {
  return execFileSync(findGo(), ['list', '-m', '-f', '{{.Dir}}', 'sigs.k8s.io/kueue'], {
    cwd: KUEUE_MANAGER.moduleDir,
    env: { ...process.env, GOFLAGS: '-mod=mod' },
    encoding: 'utf8',
  }).trim();
}

/** Installs every Kueue CRD of the module (config/components/crd/bases) and waits until served. */
export async function installKueueCrds(ep: KubeEndpoint, moduleDir: string): Promise<void> {
  const dir = join(moduleDir, 'config/components/crd/bases');
  const crds = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as KubeObject);
  for (const crd of crds) {
    // The workloads CRD is 1.4 MB of schema: allow the API server more than the default 10 s.
    const res = await kubeRequest(ep, 'POST', CRD_PATH, crd, 120_000);
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`POST CRD ${crd.metadata.name} -> ${res.status}: ${res.body.slice(0, 300)}`);
  }
  for (const crd of crds) {
    await eventually(
      `CRD ${crd.metadata.name} established`,
      async () => {
        const got = await kubeJSON<KubeObject>(ep, 'GET', `${CRD_PATH}/${crd.metadata.name}`);
        return conditionOf(got, 'Established')?.status === 'True';
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
  }
  await eventually(
    'the kueue.x-k8s.io/v1beta2 API served',
    async () => (await kubeRequest(ep, 'GET', `${KUEUE_API}/clusterqueues`)).status === 200,
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

/**
 * Installs Kueue's admission webhooks (config/components/webhook) pointed at `baseUrl` (the
 * manager's webhook server on loopback) instead of an in-cluster Service, trusting `caPem`, with
 * the namespace selectors of the module's kustomization applied and names prefixed as a release
 * install prefixes them.
 */
export async function installKueueWebhooks(
  ep: KubeEndpoint,
  moduleDir: string,
  baseUrl: string,
  caPem: string,
): Promise<void> {
  const dir = join(moduleDir, 'config/components/webhook');
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    patches?: { patch: string }[];
  };
  const patches = (kustomization.patches ?? []).map((p) => parse(p.patch) as WebhookConfiguration);
  const caBundle = Buffer.from(caPem).toString('base64');
  for (const doc of yamlDocuments(
    join(dir, 'manifests.yaml'),
  ) as unknown as WebhookConfiguration[]) {
    const patch = patches.find((p) => p.kind === doc.kind && p.metadata.name === doc.metadata.name);
    const webhooks = doc.webhooks.map((w) => {
      const patched = patch?.webhooks.find((p) => p.name === w.name);
      return {
        ...w,
        ...(patched?.namespaceSelector ? { namespaceSelector: patched.namespaceSelector } : {}),
        clientConfig: { url: `${baseUrl}${w.clientConfig.service!.path}`, caBundle },
      };
    });
    const kind = doc.kind === 'MutatingWebhookConfiguration' ? 'mutating' : 'validating';
    await kubeJSON(
      ep,
      'POST',
      `/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations`,
      { ...doc, metadata: { name: `kueue-${doc.metadata.name}` }, webhooks },
      [409],
    );
  }
}

export interface KueueOptions {
  /** Label for logs (the cluster's name). */
  name: string;
  binary: string;
  /** Kubeconfig of the cluster this manager runs for. */
  kubeconfig: string;
  /** Directory for the configuration file, and holding tls.crt/tls.key (webhooks and metrics). */
  dir: string;
  webhookPort: number;
  healthPort: number;
  featureGates?: Record<string, boolean>;
  /** `multiKueue` section of Kueue's Configuration. Default none. */
  multiKueue?: Record<string, unknown>;
  logFile: string;
}

/** One Kueue manager process. */
export class KueueProcess {
  private readonly output: string[] = [];
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly options: KueueOptions,
  ) {
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const keep = (chunk: Buffer) => {
      log.write(chunk);
      this.output.push(...chunk.toString().split('\n').filter(Boolean));
      if (this.output.length > 2000) this.output.splice(0, this.output.length - 2000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        log.end();
        resolve(code);
      }),
    );
  }

  /** Writes the Configuration, starts the manager and waits until its /readyz answers 200. */
  static async start(options: KueueOptions): Promise<KueueProcess> {
    if (!existsSync(join(options.dir, 'tls.crt')))
      throw new Error(`no tls.crt/tls.key in ${options.dir}`);
    const configFile = join(options.dir, 'kueue-config.yaml');
    // JSON is YAML; Kueue decodes it strictly, so an unknown key stops the manager at start.
    writeFileSync(
      configFile,
      JSON.stringify(
        {
          apiVersion: 'config.kueue.x-k8s.io/v1beta2',
          kind: 'Configuration',
          namespace: 'kueue-system',
          leaderElection: { leaderElect: false },
          health: { healthProbeBindAddress: `127.0.0.1:${options.healthPort}` },
          metrics: { bindAddress: '0' },
          webhook: { host: '127.0.0.1', port: options.webhookPort, certDir: options.dir },
          internalCertManagement: { enable: false },
          integrations: { frameworks: ['batch/job'] },
          featureGates: { VisibilityOnDemand: false, ...options.featureGates },
          ...(options.multiKueue ? { multiKueue: options.multiKueue } : {}),
        },
        null,
        2,
      ),
    );
    const child = spawn(options.binary, ['--config', configFile, '--zap-log-level', '2'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        KUBECONFIG: options.kubeconfig,
        KUEUE_METRICS_CERT_DIR: options.dir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kueue = new KueueProcess(child, options);
    const ready = eventually(
      `Kueue for ${options.name} ready`,
      async () =>
        kueue.running &&
        (await httpStatus(`http://127.0.0.1:${options.healthPort}/readyz`)) === 200,
      { timeoutMs: 120_000, intervalMs: 250, describe: () => kueue.tail() },
    );
    // A manager that stops at start (a configuration it refuses) fails at once, with its last words.
    const died = kueue.exited.then((code) => {
      throw new Error(`Kueue for ${options.name} exited with ${code} at start:\n${kueue.tail()}`);
    });
    died.catch(() => undefined); // it also rejects at the ordinary stop, long after the race
    try {
      await Promise.race([ready, died]);
    } catch (err) {
      await kueue.stop();
      throw err;
    }
    return kueue;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  tail(n = 25): string {
    return this.output.slice(-n).join('\n');
  }

  /** SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: { conditions?: Condition[] } & Record<string, unknown>;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export function conditionOf(o: KubeObject | undefined, type: string): Condition | undefined {
  return o?.status?.conditions?.find((c) => c.type === type);
}

interface WebhookConfiguration {
  kind: string;
  metadata: { name: string };
  webhooks: {
    name: string;
    clientConfig: { service?: { path: string } };
    namespaceSelector?: unknown;
  }[];
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}
