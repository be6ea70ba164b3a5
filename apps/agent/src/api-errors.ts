// Kubernetes API failures as the agent needs them: the HTTP code, the Status reason
// ("AlreadyExists", "Forbidden", "Invalid", ...) and the API server's message.

export interface KubeError {
  /** HTTP status; 0 when the request never got an answer (network, TLS, timeout). */
  code: number;
  /** Status.reason, e.g. "AlreadyExists"; "" when unknown. */
  reason: string;
  /** The API server's message (Status.message), or the transport error. */
  message: string;
}

function statusOf(body: unknown): { reason?: string; message?: string } | undefined {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.trim() === '' ? undefined : { message: body.trim() };
    }
  }
  if (typeof value === 'object' && value !== null) {
    const v = value as { reason?: unknown; message?: unknown };
    return {
      reason: typeof v.reason === 'string' ? v.reason : undefined,
      message: typeof v.message === 'string' ? v.message : undefined,
    };
  }
  return undefined;
}

/** Reads a thrown client-node ApiException (or any error) into a KubeError. */
export function kubeError(err: unknown): KubeError {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; body?: unknown; message?: unknown };
    if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) {
      const status = statusOf(e.body);
      return {
        code: e.code,
        reason: status?.reason ?? '',
        message: status?.message ?? `HTTP ${e.code}`,
      };
    }
    if (typeof e.message === 'string') {
      return { code: 0, reason: '', message: e.message.split('\n')[0] ?? '' };
    }
  }
  return { code: 0, reason: '', message: String(err) };
}

/** Worth retrying: no answer, throttled, or the server is briefly unavailable. */
export function isTransient(e: KubeError): boolean {
  return e.code === 0 || e.code === 429 || e.code === 502 || e.code === 503 || e.code === 504;
}

export function isNotFound(e: KubeError): boolean {
  return e.code === 404;
}

export function isAlreadyExists(e: KubeError): boolean {
  return e.code === 409 && (e.reason === 'AlreadyExists' || e.reason === '');
}

/** "Forbidden: pods \"x\" is forbidden: exceeded quota ..." — reason first, for answers. */
export function describeKubeError(e: KubeError): string {
  const head = e.reason !== '' ? e.reason : e.code !== 0 ? `HTTP ${e.code}` : 'Unreachable';
  return `${head}: ${e.message}`;
}
