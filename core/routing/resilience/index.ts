/** Policies for calling upstream providers, independent of any one provider:
 *  - timeouts per target (connect, first byte, stream idle), enforced by aborting the attempt's
 *    signal with an UpstreamTimeoutError and by not waiting for an attempt that ignores it;
 *  - retries with full-jitter exponential backoff on 408/409/429/5xx, connection errors and
 *    timeouts before the first byte, honouring Retry-After / retry-after-ms up to maxDelayMs;
 *  - a circuit breaker per upstream key (consecutive faults → open → one half-open probe);
 *  - `generateWithFallback`: the route's targets in order (tiers of weighted replicas), each with
 *    retries, committing to the first target that yields an event; after that, failures end the
 *    stream with an ApiError instead of switching targets. */
export { backoffDelay, defaultRetryPolicy, retryDelay, type RetryPolicy } from './backoff.js';
export {
  CircuitBreaker,
  CircuitBreakers,
  defaultCircuitBreakerOptions,
  type BreakerPermit,
  type CircuitBreakerOptions,
  type CircuitState,
  type CircuitTransition,
} from './circuitBreaker.js';
export { classifyFailure, isClientFault, type Failure, type FailureKind } from './classify.js';
export { systemResilienceClock, type ResilienceClock } from './clock.js';
export { CircuitOpenError, UpstreamHttpError, UpstreamProtocolError, UpstreamTimeoutError, type TimeoutPhase } from './errors.js';
export {
  generateWithFallback,
  type FailedAttempt,
  type ResiliencePolicy,
  type ServedGeneration,
  type UpstreamTarget,
} from './fallbackExecutor.js';
export { startGuardedAttempt, type AttemptContext, type GuardedAttemptOptions, type StartAttempt, type TimeoutPolicy } from './guardedAttempt.js';
export { headerValue, parseRetryAfter, type HeaderBag } from './retryAfter.js';
export { planAttemptOrder, type RouteChain, type Weighted } from './weightedOrder.js';
