// What every benchmark under bench/ shares: reading its size settings, timing a pool of concurrent
// calls, percentiles, and printing figures as an aligned table. Benchmarks print; they never
// assert a timing.

/** A positive integer setting (an env var or flag); a bad value ends the run with exit code 2. */
export function positiveInteger(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench failed: ${name} must be a positive integer\n`);
    process.exit(2);
  }
  return n;
}

/** The p-th percentile of ascending `sorted` (nearest rank); NaN when empty. */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A figure, or "n/a" when it could not be measured (never NaN or ±Infinity). */
export function fig(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** "p50 / p95 / p99 ms" of ascending latencies. */
export function percentilesMs(sorted: readonly number[]): string {
  return `${fig(pct(sorted, 50))} / ${fig(pct(sorted, 95))} / ${fig(pct(sorted, 99))} ms`;
}

/** Runs `fn` for indexes 0..n-1 on `workers` concurrent workers; returns each call's ms, sorted. */
export async function timedPool(
  n: number,
  workers: number,
  fn: (i: number, worker: number) => Promise<void>,
): Promise<{ seconds: number; latencies: number[] }> {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await fn(i, w);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return {
    seconds: (performance.now() - started) / 1000,
    latencies: latencies.sort((a, b) => a - b),
  };
}

/** Prints a title and its rows as two aligned columns. */
export function printTable(title: string, rows: readonly (readonly [string, string])[]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}

/**
 * Runs a benchmark's main: exit 0 when it ends, 1 with one line "bench failed: …" when it throws
 * (a run that is not valid says why; it never prints figures as if it were).
 */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
