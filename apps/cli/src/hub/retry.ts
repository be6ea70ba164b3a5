// Retries of calls that failed because the hub was briefly unreachable. Only calls that are safe
// to repeat are retried: reads, idempotent writes, and submits carrying a client request id
// (the hub returns the job created first).
import { status, type ServiceError } from '@grpc/grpc-js';
import { setTimeout as wait } from 'node:timers/promises';
import { backoffDelay } from '@muster/common';

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
  /** Between 0 and 1; spreads retries of many clients apart. */
  random?: () => number;
  onRetry?: (info: { attempt: number; attempts: number; delayMs: number; error: unknown }) => void;
}

// At most about 1.75 s of waiting before a down hub is reported.
export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 1000 };

/**
 * A submit rides out a hub restart (tens of seconds): it carries a client request id, so a retry
 * after a reply that was lost returns the job created first. About a minute of tries in all.
 */
export const SUBMIT_RETRY: RetryPolicy = { attempts: 16, baseDelayMs: 250, maxDelayMs: 5000 };

export function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    'details' in err
  );
}

export function isUnavailable(err: unknown): boolean {
  return isServiceError(err) && err.code === status.UNAVAILABLE;
}

/** Delay before retry number `retry` (1-based): exponential, capped, with jitter in [50%, 100%). */
export function retryDelay(
  retry: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  return backoffDelay(
    retry - 1,
    { initialMs: policy.baseDelayMs, maxMs: policy.maxDelayMs },
    random,
  );
}

export async function withRetry<T>(
  call: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  const sleep = policy.sleep ?? wait;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= policy.attempts || !retryable(error)) throw error;
      const delayMs = retryDelay(attempt, policy, policy.random);
      policy.onRetry?.({ attempt: attempt + 1, attempts: policy.attempts, delayMs, error });
      await sleep(delayMs);
    }
  }
}
