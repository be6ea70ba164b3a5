// Talks to the hub's /api/v1 with the token the user typed, kept in sessionStorage (gone when the
// tab closes). A 401 forgets the token, and the console shows the login form again.

const TOKEN_KEY = 'muster.token';

export class Unauthorized extends Error {}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let onUnauthorized: () => void = () => undefined;
/** Called when the hub refuses the token. */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

function headers(): HeadersInit {
  const t = token.get();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(`/api/v1/${path}`, { headers: headers(), signal });
  if (res.status === 401) {
    token.clear();
    onUnauthorized();
    throw new Unauthorized('the hub refused the token');
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new Error(body.message ?? `${res.status} ${res.statusText}`);
  }
  return (await res.json()) as T;
}

/**
 * Follows the hub's event stream until `signal` aborts, reconnecting after a drop and resuming
 * after the last event seen. EventSource cannot send an Authorization header, so this reads the
 * stream with fetch. `onOpen` runs at each (re)connection, so a page can reload what it shows.
 * With `untilEnd`, a stream the hub ends (one job's, after its final state) is not reopened.
 */
export async function followEvents<E>(
  path: string,
  onEvent: (e: E) => void,
  onOpen: () => void,
  signal: AbortSignal,
  untilEnd = false,
): Promise<void> {
  let last = '';
  while (!signal.aborted) {
    try {
      const res = await fetch(`/api/v1/${path}`, {
        headers: {
          ...headers(),
          Accept: 'text/event-stream',
          ...(last ? { 'Last-Event-ID': last } : {}),
        },
        signal,
      });
      if (res.status === 401) {
        token.clear();
        onUnauthorized();
        return;
      }
      if (!res.ok || !res.body) throw new Error(`${res.status}`);
      onOpen();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id = '';
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (id) last = id;
          if (event === 'job' && data.length > 0) onEvent(JSON.parse(data.join('\n')) as E);
        }
      }
      if (untilEnd) return;
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
