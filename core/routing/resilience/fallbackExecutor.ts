import { ApiError, isApiError } from '../../errors/index.js';
import type { Generation } from '../../providers/types.js';
import { defaultRetryPolicy, retryDelay, type RetryPolicy } from './backoff.js';
import type { CircuitBreakers } from './circuitBreaker.js';
import { classifyFailure, isClientFault, type Failure } from './classify.js';
import { systemResilienceClock, type ResilienceClock } from './clock.js';
import { CircuitOpenError } from './errors.js';
import { startGuardedAttempt, type AttemptContext, type TimeoutPolicy } from './guardedAttempt.js';
import { planAttemptOrder, type RouteChain, type Weighted } from './weightedOrder.js';

/** One place a route can send a request: what the router's target carries, as far as the
 *  policies care. */
export interface UpstreamTarget extends Weighted {
  /** The circuit-breaker key: the provider id, or the base URL when several providers share one
   *  upstream. Also names the upstream in error messages, so no secrets in it. */
  upstream: string;
  /** Override the policy's defaults for this target. */
  timeouts?: TimeoutPolicy;
  retry?: Partial<RetryPolicy>;
}

export interface ResiliencePolicy {
  breakers: CircuitBreakers;
  timeouts: TimeoutPolicy;
  retry?: RetryPolicy;
  clock?: ResilienceClock;
  random?: () => number;
  /** Told about every attempt that did not produce the stream: for logs and metrics. */
  onAttemptFailed?: (report: FailedAttempt) => void;
}

export interface FailedAttempt {
  upstream: string;
  retry: number;
  failure: Failure;
  /** The wait before retrying the same target; undefined: moving on to the next target. */
  retryInMs?: number;
}

/** The generation of the target that answered, and which target that was. */
export interface ServedGeneration<T> extends Generation {
  target: T;
}

/** Tries a route's targets in order (tiers balanced by weight), each with retries, until one
 *  produces its first event, and returns that stream. Resolves only once the first event is in,
 *  so when every target fails the server can still answer with a plain HTTP error; streamed and
 *  non-streamed calls both go through here (for the latter, the first event is the response).
 *  After the first event nothing switches targets any more: a failure ends the stream with an
 *  ApiError. */
export async function generateWithFallback<T extends UpstreamTarget>(
  chain: RouteChain<T>,
  start: (target: T, context: AttemptContext) => Promise<Generation>,
  policy: ResiliencePolicy,
  signal?: AbortSignal,
  /** Whether an attempt on this target answers in one piece (see GuardedAttemptOptions.wholeAnswer). */
  answersWhole?: (target: T) => boolean,
): Promise<ServedGeneration<T>> {
  const clock = policy.clock ?? systemResilienceClock;
  const random = policy.random ?? Math.random;
  const order = planAttemptOrder(chain, random);
  if (order.length === 0) throw new Error('A route needs at least one target.');
  const failures: Failure[] = [];

  for (const target of order) {
    const { retryPolicy, timeouts } = targetPolicies(policy, target);
    const breaker = policy.breakers.get(target.upstream);
    for (let retry = 0; retry < retryPolicy.maxAttempts; retry++) {
      signal?.throwIfAborted();
      let permit;
      try {
        permit = breaker.acquire();
      } catch (error) {
        const failure = classifyFailure(error, clock.now());
        failures.push(failure);
        policy.onAttemptFailed?.({ upstream: target.upstream, retry, failure });
        break;
      }
      try {
        const generation = await startGuardedAttempt((context) => start(target, context), {
          upstream: target.upstream,
          retry,
          timeouts,
          ...(signal && { signal }),
          wholeAnswer: answersWhole?.(target) === true,
          onStreamFailure: (error) => {
            if (classifyFailure(error, clock.now()).upstreamFault) breaker.recordFailure();
          },
        });
        permit.success();
        return { ...generation, target };
      } catch (error) {
        if (signal?.aborted) {
          permit.release();
          throw signal.reason;
        }
        const failure = classifyFailure(error, clock.now());
        if (failure.upstreamFault) permit.failure();
        else permit.release();
        failures.push(failure);
        const retryInMs = failure.retryable && retry + 1 < retryPolicy.maxAttempts ? retryDelay(retry, failure, retryPolicy, random) : undefined;
        policy.onAttemptFailed?.({ upstream: target.upstream, retry, failure, ...(retryInMs !== undefined && { retryInMs }) });
        if (retryInMs === undefined) break;
        await clock.sleep(retryInMs, signal);
      }
    }
  }
  throw finalError(failures, order);
}

/** A target's retry policy and timeouts over the policy's defaults, merged once per policy and
 *  target (both are fixed for a server's life) rather than on every request. */
const mergedPolicies = new WeakMap<ResiliencePolicy, WeakMap<UpstreamTarget, { retryPolicy: RetryPolicy; timeouts: TimeoutPolicy }>>();

function targetPolicies(policy: ResiliencePolicy, target: UpstreamTarget): { retryPolicy: RetryPolicy; timeouts: TimeoutPolicy } {
  let byTarget = mergedPolicies.get(policy);
  if (!byTarget) mergedPolicies.set(policy, (byTarget = new WeakMap()));
  let merged = byTarget.get(target);
  if (!merged) {
    merged = { retryPolicy: { ...(policy.retry ?? defaultRetryPolicy), ...target.retry }, timeouts: { ...policy.timeouts, ...target.timeouts } };
    byTarget.set(target, merged);
  }
  return merged;
}

/** The error for the client when no target answered: one the client can fix if any target said
 *  so; else the last real failure; an open circuit only when every target was open. */
function finalError(failures: Failure[], order: readonly UpstreamTarget[]): unknown {
  const chosen = failures.find(isClientFault) ?? failures.findLast((failure) => failure.kind !== 'circuit_open');
  if (!chosen) {
    const soonest = Math.min(...failures.map((failure) => failure.retryAfterMs ?? 0));
    return new CircuitOpenError(order.map((target) => target.upstream).join(', '), soonest);
  }
  if (isApiError(chosen.error)) return chosen.error;
  const tried = [...new Set(order.map((target) => target.upstream))].join(', ');
  const apiError = upstreamApiError(chosen, tried);
  if (!apiError) return chosen.error;
  apiError.cause = chosen.error;
  return apiError;
}

function upstreamApiError(failure: Failure, tried: string): ApiError | undefined {
  switch (failure.kind) {
    case 'timeout':
      return new ApiError('LLMSVC_ERR_UPSTREAM_TIMEOUT', `No upstream for this model (tried ${tried}) answered in time. Retry the request later.`);
    case 'connection':
      return new ApiError('LLMSVC_ERR_UPSTREAM_UNAVAILABLE', `No upstream for this model (tried ${tried}) could be reached. Retry the request later.`);
    case 'http': {
      if (failure.status === 429) {
        const seconds = failure.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(failure.retryAfterMs / 1000));
        return new ApiError(
          'LLMSVC_ERR_UPSTREAM_RATE_LIMITED',
          `The upstreams for this model (tried ${tried}) are rate-limiting llmsvc. Retry ${seconds ? `in ${seconds} s` : 'in a moment'}.`,
          null,
          seconds ? { 'retry-after': String(seconds) } : {},
        );
      }
      const detail = failure.error instanceof Error ? `: ${failure.error.message}` : '';
      return new ApiError(
        'LLMSVC_ERR_UPSTREAM_UNAVAILABLE',
        `The upstream for this model (tried ${tried}) failed with HTTP ${failure.status}${detail}. ${failure.status! >= 500 ? 'Retry the request later.' : 'Check the request; if it is valid, the operator should check that upstream’s configuration.'}`,
      );
    }
    default:
      // Not an upstream failure we recognise (likely a bug): the server reports it as internal.
      return undefined;
  }
}
