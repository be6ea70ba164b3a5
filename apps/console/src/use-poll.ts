import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api';

/** Reads `path` now and every `everyMs`; the last answer, or the error of the last try. */
export function usePoll<T>(path: string, everyMs = 10_000): { data?: T; error?: string } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  useEffect(() => {
    const abort = new AbortController();
    const read = () =>
      getJson<T>(path, abort.signal).then(
        (data) => setState({ data }),
        (err: unknown) => {
          if (!abort.signal.aborted) setState((s) => ({ ...s, error: String(err) }));
        },
      );
    void read();
    const timer = setInterval(() => void read(), everyMs);
    return () => {
      clearInterval(timer);
      abort.abort();
    };
  }, [path, everyMs]);
  return state;
}
