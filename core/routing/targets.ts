import { localProviderId, type ResolvedProvider } from '../config/index.js';
import type { Provider } from '../providers/index.js';
import type { RouteChain, TimeoutPolicy, RetryPolicy, UpstreamTarget } from './resilience/index.js';

/** One place a request for a public model id can be served: a provider and its model id. */
export interface Target extends UpstreamTarget {
  provider: Provider;
  /** The model id the provider knows. */
  model: string;
  /** Local models: no egress checks, no redaction, no retries or timeouts (their queue has its own limits). */
  local: boolean;
  /** Upstream targets: where requests go, for the egress policy. */
  baseUrl?: string;
}

export interface UpstreamEntry {
  provider: Provider;
  settings: ResolvedProvider;
  baseUrl: string;
}

function timeoutsOf(settings: ResolvedProvider): TimeoutPolicy {
  const { resilience } = settings;
  return {
    connectMs: resilience.connect_timeout_ms,
    firstByteMs: resilience.first_byte_timeout_ms,
    idleMs: resilience.idle_timeout_ms,
    wholeAnswerMs: resilience.response_timeout_ms,
  };
}

function retryOf(settings: ResolvedProvider): RetryPolicy {
  const { resilience } = settings;
  return { maxAttempts: resilience.max_retries + 1, baseDelayMs: resilience.retry_base_ms, maxDelayMs: resilience.retry_max_ms };
}

export function targetOf(providerId: string, model: string, weight: number | undefined, local: Provider, upstreams: ReadonlyMap<string, UpstreamEntry>): Target {
  if (providerId === localProviderId) {
    return { upstream: localProviderId, provider: local, model, local: true, retry: { maxAttempts: 1 }, ...(weight === undefined ? {} : { weight }) };
  }
  const entry = upstreams.get(providerId);
  if (!entry) throw new Error(`Unknown provider ${providerId}`); // the config loader already refused this
  return {
    upstream: providerId,
    provider: entry.provider,
    model,
    local: false,
    baseUrl: entry.baseUrl,
    timeouts: timeoutsOf(entry.settings),
    retry: retryOf(entry.settings),
    ...(weight === undefined ? {} : { weight }),
  };
}

/** A route's targets as a chain for the fallback executor: consecutive targets that carry a
 *  weight form one tier of replicas balanced by weight; a target without a weight is a tier of
 *  its own. E.g. [a w2, b w1, c] → a or b first (2:1), then the other, then c. */
export function chainOf(targets: readonly Target[]): RouteChain<Target> {
  const chain: (Target | Target[])[] = [];
  for (const target of targets) {
    const previous = chain.at(-1);
    if (target.weight === undefined) chain.push(target);
    else if (Array.isArray(previous)) previous.push(target);
    else chain.push([target]);
  }
  return chain;
}
