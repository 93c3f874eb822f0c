import { localProviderId, type ResolvedProvider } from '../config/index.js';
import type { ChatRequest, CompletionRequest, Provider } from '../providers/index.js';
import type { EnginePool } from './pool/index.js';
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
  /** A pool's target: replaced by its members' targets, in the pool's order, for each request. */
  pool?: PoolTargets;
  /** A pool member's target: which member, so the pool counts its requests in flight. */
  member?: { pool: EnginePool; index: number };
}

/** A pool target's member targets, made once: members get one attempt each (a retry goes to the
 *  next member), except the last usable one tried, which gets the attempts left, with backoff. */
interface PoolTargets {
  pool: EnginePool;
  once: readonly Target[];
  /** [members tried before it][member index] */
  last: readonly (readonly Target[])[];
}

export interface UpstreamEntry {
  provider: Provider;
  settings: ResolvedProvider;
  baseUrl: string;
  /** Set when the provider is a pool of engines (then `provider` is the pool). */
  pool?: EnginePool;
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
  if (entry.pool) return poolTargetOf(providerId, model, weight, entry.pool, entry.settings);
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

function poolTargetOf(providerId: string, model: string, weight: number | undefined, pool: EnginePool, settings: ResolvedProvider): Target {
  const timeouts = timeoutsOf(settings);
  const retry = retryOf(settings);
  const memberTarget = (index: number, maxAttempts: number): Target => {
    const member = pool.members[index]!;
    return { upstream: member.upstream, provider: member.provider, model, local: false, baseUrl: member.baseUrl, timeouts, retry: { ...retry, maxAttempts }, member: { pool, index } };
  };
  const indices = pool.members.map((_member, index) => index);
  // The last usable member's targets, by how many usable members come before it.
  const last = indices.map((before) => indices.map((index) => memberTarget(index, Math.max(1, retry.maxAttempts - before))));
  return {
    upstream: providerId,
    provider: pool,
    model,
    local: false,
    baseUrl: pool.members[0]!.baseUrl,
    pool: { pool, once: indices.map((index) => memberTarget(index, 1)), last },
    ...(weight === undefined ? {} : { weight }),
  };
}

/** The member targets of a pool target for one request, in the pool's order. The last usable
 *  member gets the retries left, so a failing member is not retried while a healthy one could
 *  be; members past it (unhealthy, circuit open) are a last resort, one attempt each. */
export function memberTargetsOf(targets: PoolTargets, request: ChatRequest | CompletionRequest): Target[] {
  const { order, usable } = targets.pool.order(request);
  const lastUsable = Math.max(usable, 1) - 1;
  return order.map((index, position) => (position === lastUsable ? targets.last[lastUsable]! : targets.once)[index]!);
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
