import type { Failure } from './classify.js';

export interface RetryPolicy {
  /** Attempts per target, the first included: 1 means no retry. */
  maxAttempts: number;
  /** The backoff ceiling of the first retry; it doubles with each further retry. */
  baseDelayMs: number;
  /** Ceiling for any one wait, Retry-After included. */
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 8_000 };

/** Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): a uniform draw between
 *  0 and the exponential ceiling, so clients that failed together do not retry together. */
export function backoffDelay(retryIndex: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryIndex);
  return Math.floor(random() * ceiling);
}

/** How long to wait before retry number `retryIndex` (0 = the first retry): the upstream's
 *  Retry-After when it sent one, else the jittered backoff; never more than maxDelayMs. */
export function retryDelay(retryIndex: number, failure: Failure, policy: RetryPolicy, random: () => number): number {
  if (failure.retryAfterMs !== undefined) return Math.min(failure.retryAfterMs, policy.maxDelayMs);
  return backoffDelay(retryIndex, policy, random);
}
