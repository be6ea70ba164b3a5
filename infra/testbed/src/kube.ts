// A tiny HTTPS client for the few API calls the launcher itself makes (seeding nodes, readiness).
// It keeps the library free of @kubernetes/client-node, which is ESM-only and awkward to load from CommonJS.
import * as https from 'node:https';

export interface KubeEndpoint {
  server: string;
  token: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  ca: string;
}

export interface KubeResponse {
  status: number;
  body: string;
}

export function kubeRequest(
  ep: KubeEndpoint,
  method: string,
  urlPath: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(urlPath, ep.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      url,
      {
        method,
        ca: ep.ca,
        headers: {
          Authorization: `Bearer ${ep.token}`,
          Accept: 'application/json',
          ...(payload
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
            : {}),
        },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${method} ${urlPath}: timeout after ${timeoutMs}ms`)),
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Like kubeRequest but throws unless the status is 2xx (or listed in `ok`); returns the parsed JSON body. */
export async function kubeJSON<T = unknown>(
  ep: KubeEndpoint,
  method: string,
  urlPath: string,
  body?: unknown,
  ok: number[] = [],
): Promise<T> {
  const res = await kubeRequest(ep, method, urlPath, body);
  if ((res.status < 200 || res.status > 299) && !ok.includes(res.status)) {
    throw new Error(`${method} ${urlPath} -> ${res.status}: ${res.body.slice(0, 500)}`);
  }
  return (res.body ? JSON.parse(res.body) : {}) as T;
}
