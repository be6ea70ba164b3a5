// A small real-API client for the agent tests (the test side of the cluster: seeding nodes and
// pods, reading what the agent did). Plain HTTPS, so tests need no ESM-only client library.
import * as https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { eventually as sharedEventually } from '../../support/eventually';

export interface ClusterAccess {
  server: string;
  token: string;
  /** PEM of the cluster CA. */
  ca: string;
}

export interface KubeResult<T = unknown> {
  status: number;
  body: T;
}

export interface PodView {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: {
    nodeName?: string;
    schedulingGates?: Array<{ name: string }>;
    nodeSelector?: Record<string, string>;
    affinity?: unknown;
  };
  status?: { phase?: string };
}

export class Kube {
  private readonly agent: https.Agent;

  constructor(readonly access: ClusterAccess) {
    this.agent = new https.Agent({ ca: access.ca, keepAlive: true, maxSockets: 64 });
  }

  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<KubeResult<T>> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        new URL(path, this.access.server),
        {
          method,
          agent: this.agent,
          headers: {
            Authorization: `Bearer ${this.access.token}`,
            Accept: 'application/json',
            ...(payload
              ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              // not JSON
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Like request, but throws unless the answer is 2xx or one of `ok`. */
  async json<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    ok: number[] = [],
    contentType?: string,
  ): Promise<T> {
    const r = await this.request<T>(method, path, body, contentType);
    if ((r.status < 200 || r.status > 299) && !ok.includes(r.status)) {
      throw new Error(`${method} ${path} -> ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
    }
    return r.body;
  }

  /** A kwok fake node (Ready once kwok picks it up). */
  async createNode(
    name: string,
    resources: Record<string, string>,
    labels: Record<string, string> = {},
  ): Promise<void> {
    await this.json('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: { 'kubernetes.io/hostname': name, type: 'kwok', ...labels },
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: {},
      status: { allocatable: resources, capacity: resources },
    });
  }

  async cordon(name: string, unschedulable: boolean): Promise<void> {
    await this.json(
      'PATCH',
      `/api/v1/nodes/${name}`,
      { spec: { unschedulable } },
      [],
      'application/merge-patch+json',
    );
  }

  async deleteNode(name: string): Promise<void> {
    await this.json('DELETE', `/api/v1/nodes/${name}`, undefined, [404]);
  }

  async ensureNamespace(name: string): Promise<void> {
    await this.json(
      'POST',
      '/api/v1/namespaces',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      [409],
    );
  }

  async createPod(namespace: string, pod: object): Promise<void> {
    await this.json('POST', `/api/v1/namespaces/${namespace}/pods`, pod);
  }

  async pods(namespace: string, labelSelector?: string): Promise<PodView[]> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    const list = await this.json<{ items: PodView[] }>(
      'GET',
      `/api/v1/namespaces/${namespace}/pods${q}`,
    );
    return list.items;
  }

  async gangPods(namespace: string, gangId: string): Promise<PodView[]> {
    return this.pods(namespace, `muster.dev/gang-id=${gangId}`);
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    await this.json('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, undefined, [404]);
  }

  /** Creates (or replaces) any namespaced or cluster object at `collection`. */
  async apply(collection: string, obj: { metadata: { name: string } }): Promise<void> {
    const r = await this.request('POST', collection, obj);
    if (r.status === 409) {
      await this.json('PUT', `${collection}/${obj.metadata.name}`, obj);
    } else if (r.status < 200 || r.status > 299) {
      throw new Error(`POST ${collection} -> ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
    }
  }

  /** Whether a service account's user may do `verb` on `resource` (SubjectAccessReview). */
  async allowed(
    user: string,
    verb: string,
    resource: string,
    group: string,
    namespace: string,
  ): Promise<boolean> {
    const r = await this.json<{ status: { allowed: boolean } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user,
          groups: ['system:serviceaccounts', 'system:authenticated'],
          resourceAttributes: { verb, resource, group, namespace },
        },
      },
    );
    return r.status.allowed;
  }

  /** A short-lived token for a service account (TokenRequest API). */
  async serviceAccountToken(namespace: string, name: string, seconds = 3600): Promise<string> {
    const r = await this.json<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: seconds },
      },
    );
    return r.status.token;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** An object of a manifest file, as far as applying it needs. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** The collection path of a manifest's kind (plural: the kind in lower case plus "s"). */
export function collectionOf(m: Manifest): string {
  const base = m.apiVersion.includes('/') ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
  const plural = `${m.kind.toLowerCase()}s`;
  return m.metadata.namespace
    ? `${base}/namespaces/${m.metadata.namespace}/${plural}`
    : `${base}/${plural}`;
}

/** The objects of a YAML manifest file. */
export function manifestsOf(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON() as Manifest);
}

/** Writes a kubeconfig for the cluster with the given bearer token. */
export function writeKubeconfig(
  path: string,
  access: ClusterAccess,
  token: string,
  name = 'agent',
): void {
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name,
          cluster: {
            server: access.server,
            'certificate-authority-data': Buffer.from(access.ca).toString('base64'),
          },
        },
      ],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: name, user: name } }],
      'current-context': name,
    }),
    { mode: 0o600 },
  );
}

/** {@link sharedEventually} with the patience of real API servers: 60 s, every 100 ms. */
export function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 60_000,
): Promise<T> {
  return sharedEventually(what, fn, { timeoutMs, intervalMs: 100 });
}
