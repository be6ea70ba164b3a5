// The agent's Kubernetes client.
//
// Informers (list + watch) and /version use @kubernetes/client-node. The pod writes of a
// materialisation — thousands of creates and patches in a burst — go over one multiplexed HTTP/2
// connection, as client-go does (HTTP/1.1 keep-alive pool when a proxy is configured or the
// server does not speak h2), with the kubeconfig's credentials (resolved by client-node, refreshed
// every few seconds so rotating tokens and exec plugins keep working), sending the pod JSON exactly
// as built:
// - client-node opens a new TLS connection for every request, which halves the create rate, and
//   even a warm HTTP/1.1 pool first pays one TLS handshake per concurrent request;
// - client-node serialises bodies through its V1Pod model, silently dropping any field that model
//   does not know (a newer Kubernetes field in a template);
// - its per-request work costs about twice the CPU of a plain HTTPS request.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import {
  CoreV1Api,
  KubeConfig,
  ServerConfiguration,
  VersionApi,
  createConfiguration,
  type Middleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { DRA_API, PODGROUP_API, SCHEDULING_GATE } from './constants';

/** The pod operations materialising, cancelling and fencing need (faked in unit tests). */
export interface PodApi {
  /** Creates the pod; throws an API error ({ code, body }) as client-node would. */
  createPod(namespace: string, body: object): Promise<void>;
  /** Labels and gate state of an existing pod, or undefined when it does not exist. */
  readPod(
    namespace: string,
    name: string,
  ): Promise<{ labels: Record<string, string>; gated: boolean; deleting: boolean } | undefined>;
  /** Removes the Muster scheduling gate (strategic merge patch; idempotent). */
  removeGate(namespace: string, name: string): Promise<void>;
  /**
   * Deletes the pod; true when it existed, false when it was already gone. `gracePeriodSeconds`
   * shortens the pod's own termination grace (fencing); undefined keeps it.
   */
  deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<boolean>;
  /** Creates a scheduling.k8s.io/v1alpha2 PodGroup; throws an API error like createPod. */
  createPodGroup(namespace: string, body: object): Promise<void>;
  /** Labels of an existing PodGroup, or undefined when it does not exist. */
  readPodGroup(
    namespace: string,
    name: string,
  ): Promise<{ labels: Record<string, string>; deleting: boolean } | undefined>;
  /** Deletes the PodGroup; true when it existed, false when it was already gone. */
  deletePodGroup(namespace: string, name: string): Promise<boolean>;
  /** Creates a resource.k8s.io/v1 ResourceClaimTemplate; throws an API error like createPod. */
  createClaimTemplate(namespace: string, body: object): Promise<void>;
  /** Labels of an existing ResourceClaimTemplate, or undefined when it does not exist. */
  readClaimTemplate(
    namespace: string,
    name: string,
  ): Promise<{ labels: Record<string, string>; deleting: boolean } | undefined>;
  /** Deletes the ResourceClaimTemplate; true when it existed, false when it was already gone. */
  deleteClaimTemplate(namespace: string, name: string): Promise<boolean>;
}

/** One page of a list, shaped as the informers want it. */
export interface ListPage<T> {
  metadata?: { resourceVersion?: string; _continue?: string };
  items: T[];
}

/** A PodGroup as the agent keeps it (list and watch objects are stripped to this). */
export interface PodGroupLike {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string> | null;
    deletionTimestamp?: unknown;
  } | null;
}

export interface KubeClientOptions {
  /** Size of the connection pool (sockets per API server). */
  maxSockets: number;
  /** Deadline of one request, in ms; default 30000. */
  requestTimeoutMs?: number;
  /** Pod writes over HTTP/2 (default true; HTTP/1.1 behind a proxy or against plain http). */
  http2?: boolean;
}

/** A failed API request, shaped like client-node's ApiException (code + Status body). */
export class KubeRequestError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    method: string,
    path: string,
  ) {
    super(`${method} ${path}: HTTP ${code}`);
  }
}

/** Loads the kubeconfig named by KUBECONFIG, or the in-cluster service account. */
export function loadKubeConfig(kubeconfig: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig === undefined) kc.loadFromCluster();
  else if (kubeconfig.includes(':')) kc.loadFromDefault();
  else kc.loadFromFile(kubeconfig);
  if (!kc.getCurrentCluster()) throw new Error('the kubeconfig names no current cluster');
  return kc;
}

/** Errors that say nothing about the server's protocols (retry h2 later). */
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** How long resolved credentials are reused before client-node is asked again. */
const CREDENTIALS_TTL_MS = 10_000;

function enc(s: string): string {
  return encodeURIComponent(s);
}

export class KubeClient implements PodApi {
  private credentials: { headers: Record<string, string>; at: number } | undefined;
  private readonly server: URL;
  private readonly timeoutMs: number;
  /** HTTP/2 is used until the server turns out not to speak it. */
  private h2Enabled: boolean;
  private h2: http2.ClientHttp2Session | undefined;

  private constructor(
    readonly kc: KubeConfig,
    readonly core: CoreV1Api,
    private readonly versionApi: VersionApi,
    private readonly agent: http.Agent | https.Agent,
    private readonly tls: http2.SecureClientSessionOptions | undefined,
    options: KubeClientOptions,
  ) {
    this.server = new URL(kc.getCurrentCluster()!.server);
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.h2Enabled = tls !== undefined && options.http2 !== false;
  }

  static async create(kc: KubeConfig, options: KubeClientOptions): Promise<KubeClient> {
    const cluster = kc.getCurrentCluster()!;
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const pool = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      scheduling: 'lifo' as const,
    };
    const tlsOptions = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      servername: cluster.tlsServerName ?? opts.servername,
      ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
    };
    let agent: http.Agent | https.Agent;
    let tls: http2.SecureClientSessionOptions | undefined;
    if (cluster.proxyUrl && opts.agent instanceof http.Agent) {
      agent = opts.agent; // client-node's proxy agent
    } else if (cluster.server.startsWith('http:')) {
      agent = new http.Agent(pool);
    } else {
      agent = new https.Agent({ ...pool, ...tlsOptions });
      tls = tlsOptions;
    }
    const timeoutMs = options.requestTimeoutMs ?? 30_000;
    // client-node calls (lists, /version) share the pool and get a deadline too.
    const middleware: Middleware = {
      pre: async (ctx: RequestContext) => {
        if (!cluster.proxyUrl) ctx.setAgent(agent);
        if (!ctx.getSignal()) ctx.setSignal(AbortSignal.timeout(timeoutMs));
        return ctx;
      },
      post: async (rsp: ResponseContext) => rsp,
    };
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [middleware],
    });
    return new KubeClient(kc, new CoreV1Api(config), new VersionApi(config), agent, tls, options);
  }

  /** The API server's gitVersion, e.g. "v1.34.1". */
  async serverVersion(): Promise<string> {
    const info = await this.versionApi.getCode();
    return info.gitVersion;
  }

  private async headers(): Promise<Record<string, string>> {
    const now = Date.now();
    if (this.credentials && now - this.credentials.at < CREDENTIALS_TTL_MS) {
      return this.credentials.headers;
    }
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v !== undefined) headers[k] = String(v);
    }
    if (typeof opts.auth === 'string') {
      headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    }
    this.credentials = { headers, at: now };
    return headers;
  }

  /** One request; resolves with the body text of a 2xx answer, throws KubeRequestError else. */
  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<string> {
    const headers = await this.headers();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (this.h2Enabled) {
      const session = this.session();
      if (session) return this.requestH2(session, headers, method, path, payload, contentType);
    }
    const url = new URL(path, this.server);
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            ...headers,
            Accept: 'application/json',
            ...(payload !== undefined
              ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve(text);
            else reject(new KubeRequestError(code, text, method, path));
          });
        },
      );
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new Error(`${method} ${path}: no answer within ${this.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** The shared HTTP/2 session, connecting when there is none (undefined once h2 is off). */
  private session(): http2.ClientHttp2Session | undefined {
    const current = this.h2;
    if (current && !current.closed && !current.destroyed) return current;
    const s = http2.connect(this.server.origin, { ...this.tls, ALPNProtocols: ['h2'] });
    const forget = () => {
      if (this.h2 === s) this.h2 = undefined;
    };
    let connected = false;
    s.on('connect', () => {
      connected = true;
      const tlsSocket = s.socket as unknown as { alpnProtocol?: string | false };
      if (tlsSocket.alpnProtocol !== 'h2') {
        this.h2Enabled = false; // the server speaks HTTP/1.1 only: use the pool from now on
        s.destroy();
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      forget();
      // A TLS or protocol failure (not the network) before connecting: no h2 there.
      if (!connected && !NETWORK_ERRORS.has(err.code ?? '')) this.h2Enabled = false;
    });
    s.on('goaway', forget);
    s.on('close', forget);
    // An idle session is closed (and reopened on the next request).
    s.setTimeout(60_000, () => s.close());
    this.h2 = s;
    return this.h2Enabled ? s : undefined;
  }

  private requestH2(
    session: http2.ClientHttp2Session,
    headers: Record<string, string>,
    method: string,
    path: string,
    payload: string | undefined,
    contentType: string,
  ): Promise<string> {
    return new Promise((resolve, reject) => {
      const h: http2.OutgoingHttpHeaders = {
        ':method': method,
        ':path': path,
        accept: 'application/json',
      };
      for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
      if (payload !== undefined) h['content-type'] = contentType;
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(h);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      let status = 0;
      let done = false;
      const chunks: Buffer[] = [];
      stream.on('response', (res) => (status = Number(res[':status'] ?? 0)));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        done = true;
        const text = Buffer.concat(chunks).toString('utf8');
        if (status >= 200 && status < 300) resolve(text);
        else reject(new KubeRequestError(status, text, method, path));
      });
      stream.on('error', (err) => {
        done = true;
        reject(err);
      });
      stream.on('close', () => {
        // Reset by the server (e.g. REFUSED_STREAM after GOAWAY): transient, retried.
        if (!done) reject(new Error(`${method} ${path}: stream closed (code ${stream.rstCode})`));
      });
      stream.setTimeout(this.timeoutMs, () =>
        stream.destroy(new Error(`${method} ${path}: no answer within ${this.timeoutMs} ms`)),
      );
      stream.end(payload);
    });
  }

  async createPod(namespace: string, body: object): Promise<void> {
    await this.request('POST', `/api/v1/namespaces/${enc(namespace)}/pods`, body);
  }

  async readPod(namespace: string, name: string) {
    try {
      const pod = JSON.parse(
        await this.request('GET', `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`),
      ) as {
        metadata?: { labels?: Record<string, string>; deletionTimestamp?: string };
        spec?: { schedulingGates?: Array<{ name?: string }> };
      };
      return {
        labels: pod.metadata?.labels ?? {},
        gated: (pod.spec?.schedulingGates ?? []).some((g) => g.name === SCHEDULING_GATE),
        deleting: pod.metadata?.deletionTimestamp !== undefined,
      };
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return undefined;
      throw err;
    }
  }

  async removeGate(namespace: string, name: string): Promise<void> {
    await this.request(
      'PATCH',
      `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`,
      { spec: { schedulingGates: [{ $patch: 'delete', name: SCHEDULING_GATE }] } },
      'application/strategic-merge-patch+json',
    );
  }

  /** Sets annotations on the pod (merge patch); false when the pod is gone. */
  async annotatePod(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<boolean> {
    try {
      await this.request(
        'PATCH',
        `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`,
        { metadata: { annotations } },
        'application/merge-patch+json',
      );
      return true;
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return false;
      throw err;
    }
  }

  /** Creates a core/v1 Event. */
  async createEvent(namespace: string, body: object): Promise<void> {
    await this.request('POST', `/api/v1/namespaces/${enc(namespace)}/events`, body);
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<boolean> {
    const grace =
      gracePeriodSeconds === undefined ? '' : `?gracePeriodSeconds=${gracePeriodSeconds}`;
    try {
      await this.request(
        'DELETE',
        `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}${grace}`,
      );
      return true;
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return false;
      throw err;
    }
  }

  /**
   * True when the API server serves podgroups in scheduling.k8s.io/v1alpha2 (API discovery), false
   * when that group version or the resource is absent; throws when the server cannot tell.
   */
  async servesPodGroups(): Promise<boolean> {
    let text: string;
    try {
      text = await this.request('GET', PODGROUP_API);
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return false;
      throw err;
    }
    const list = JSON.parse(text) as { resources?: Array<{ name?: string; verbs?: string[] }> };
    const pg = (list.resources ?? []).find((r) => r.name === 'podgroups');
    return (
      pg !== undefined && ['create', 'delete', 'list', 'watch'].every((v) => pg.verbs?.includes(v))
    );
  }

  /** One page of the PodGroups of all namespaces. */
  async listPodGroups(
    continueToken: string | undefined,
    limit: number,
  ): Promise<{
    metadata?: { resourceVersion?: string; _continue?: string };
    items: PodGroupLike[];
  }> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (continueToken) q.set('continue', continueToken);
    const list = JSON.parse(await this.request('GET', `${PODGROUP_API}/podgroups?${q}`)) as {
      metadata?: { resourceVersion?: string; continue?: string };
      items?: PodGroupLike[];
    };
    return {
      metadata: {
        resourceVersion: list.metadata?.resourceVersion,
        _continue: list.metadata?.continue,
      },
      items: list.items ?? [],
    };
  }

  /**
   * True when the API server serves every one of `resources` in the group version at `apiPath`
   * (e.g. "/apis/resource.k8s.io/v1"), false when the group version or a resource is absent;
   * throws when the server cannot tell.
   */
  async servesResources(apiPath: string, resources: readonly string[]): Promise<boolean> {
    let text: string;
    try {
      text = await this.request('GET', apiPath);
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return false;
      throw err;
    }
    const list = JSON.parse(text) as { resources?: Array<{ name?: string }> };
    const served = new Set((list.resources ?? []).map((r) => r.name));
    return resources.every((r) => served.has(r));
  }

  /** One page of any collection, e.g. `/apis/resource.k8s.io/v1/resourceslices`. */
  async listPage<T>(
    collection: string,
    continueToken: string | undefined,
    limit: number,
  ): Promise<ListPage<T>> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (continueToken) q.set('continue', continueToken);
    const list = JSON.parse(await this.request('GET', `${collection}?${q}`)) as {
      metadata?: { resourceVersion?: string; continue?: string };
      items?: T[];
    };
    return {
      metadata: {
        resourceVersion: list.metadata?.resourceVersion,
        _continue: list.metadata?.continue,
      },
      items: list.items ?? [],
    };
  }

  async createClaimTemplate(namespace: string, body: object): Promise<void> {
    await this.request(
      'POST',
      `${DRA_API}/namespaces/${enc(namespace)}/resourceclaimtemplates`,
      body,
    );
  }

  async readClaimTemplate(namespace: string, name: string) {
    try {
      const t = JSON.parse(
        await this.request(
          'GET',
          `${DRA_API}/namespaces/${enc(namespace)}/resourceclaimtemplates/${enc(name)}`,
        ),
      ) as PodGroupLike;
      return {
        labels: t.metadata?.labels ?? {},
        deleting:
          t.metadata?.deletionTimestamp !== undefined && t.metadata?.deletionTimestamp !== null,
      };
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return undefined;
      throw err;
    }
  }

  async deleteClaimTemplate(namespace: string, name: string): Promise<boolean> {
    try {
      await this.request(
        'DELETE',
        `${DRA_API}/namespaces/${enc(namespace)}/resourceclaimtemplates/${enc(name)}`,
      );
      return true;
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return false;
      throw err;
    }
  }

  async createPodGroup(namespace: string, body: object): Promise<void> {
    await this.request('POST', `${PODGROUP_API}/namespaces/${enc(namespace)}/podgroups`, body);
  }

  async readPodGroup(namespace: string, name: string) {
    try {
      const pg = JSON.parse(
        await this.request(
          'GET',
          `${PODGROUP_API}/namespaces/${enc(namespace)}/podgroups/${enc(name)}`,
        ),
      ) as PodGroupLike;
      return {
        labels: pg.metadata?.labels ?? {},
        deleting:
          pg.metadata?.deletionTimestamp !== undefined && pg.metadata?.deletionTimestamp !== null,
      };
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return undefined;
      throw err;
    }
  }

  async deletePodGroup(namespace: string, name: string): Promise<boolean> {
    try {
      await this.request(
        'DELETE',
        `${PODGROUP_API}/namespaces/${enc(namespace)}/podgroups/${enc(name)}`,
      );
      return true;
    } catch (err) {
      if (err instanceof KubeRequestError && err.code === 404) return false;
      throw err;
    }
  }

  close(): void {
    this.h2?.close();
    this.agent.destroy();
  }
}
