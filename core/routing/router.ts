import type { ResponseCache } from '../cache/index.js';
import type { RouteSettings } from '../config/index.js';
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  Generation,
  Provider,
  ProviderModel,
  TokenCountRequest,
} from '../providers/index.js';
import type { Tracing } from '../tracing/index.js';
import { attributeNames, spanNames, tracedGeneration } from '../tracing/generation.js';
import { egressBlocked, egressRefusal, type EgressSettings } from './egress.js';
import { redactorForRoute, type Redactor } from './redaction/index.js';
import { generateWithFallback, planAttemptOrder, type ResiliencePolicy, type RouteChain } from './resilience/index.js';
import { chainOf, memberTargetsOf, targetOf, type Target, type UpstreamEntry } from './targets.js';

export interface RouterOptions {
  /** The models dir (provider id `local`). */
  local: Provider;
  upstreams: ReadonlyMap<string, UpstreamEntry>;
  routes: readonly RouteSettings[];
  egress: EgressSettings;
  resilience: Omit<ResiliencePolicy, 'timeouts'>;
  /** Answers to deterministic requests (and to routes with `cache: true`), replayed on a repeat. */
  cache?: ResponseCache;
  /** Tracing on: spans for the cache lookup, each upstream attempt and local generations. */
  tracing?: Tracing;
}

/** How one public model id is served. */
interface Plan {
  route?: RouteSettings;
  targets: Target[];
  chain: RouteChain<Target>;
  /** Some target is a pool of engines: its members are chosen per request. */
  pooled: boolean;
}

/** Every target of a model id is refused by the egress policy, for these reasons. */
class EgressRefusal {
  constructor(readonly reasons: string[]) {}
}

/** The Provider the server talks to: maps a public model id to where it is served and runs the
 *  request there under the resilience policies. Three kinds of model id:
 *  - a route from the config (`team-default`): its chain of targets, with fallback;
 *  - `<provider>/<model>` for a configured upstream provider: that one target;
 *  - anything else: a local model, called directly (no retries: a local failure is not transient). */
export class Router implements Provider {
  readonly id = 'router';
  private readonly routes: ReadonlyMap<string, RouteSettings>;
  /** Per route that asks for it: scrubs personal data from requests bound for non-local targets. */
  private readonly redactors: ReadonlyMap<string, Redactor>;
  /** The resilience policy; each target brings its own timeouts. */
  private readonly policy: ResiliencePolicy;
  /** Each route's plan, made once: routes, providers and the egress policy are fixed at start. */
  private readonly routePlans: ReadonlyMap<string, Plan | EgressRefusal>;

  constructor(private readonly options: RouterOptions) {
    this.routes = new Map(options.routes.map((route) => [route.model, route]));
    this.policy = { ...options.resilience, timeouts: {} };
    this.routePlans = new Map(options.routes.map((route) => [route.model, this.planOf(route.model)!]));
    this.redactors = new Map(
      options.routes.flatMap((route) => {
        const redactor = redactorForRoute(route.redact);
        return redactor ? [[route.model, redactor] as const] : [];
      }),
    );
  }

  listModels(): ProviderModel[] {
    const routed = this.options.routes.map((route) => ({ id: route.model, created: 0, ownedBy: 'llmsvc-route' }));
    const upstream = [...this.options.upstreams.values()].flatMap((entry) => entry.provider.listModels());
    return [...this.options.local.listModels(), ...routed, ...upstream];
  }

  chat(request: ChatRequest): Promise<Generation> {
    return this.generate(request, (provider, sent) => provider.chat(sent), true);
  }

  complete(request: CompletionRequest): Promise<Generation> {
    return this.generate(request, (provider, sent) => provider.complete(sent), false);
  }

  /** Embeddings try the targets in order, once each: there is no stream to guard. */
  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const plan = this.plan(request.model);
    if (!plan) return this.options.local.embed(request);
    let lastError: unknown;
    for (const target of plan.targets) {
      try {
        return await target.provider.embed({ ...request, model: target.model });
      } catch (error) {
        if (request.signal?.aborted) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  /** Counted by the first target that may serve the model. */
  countChatTokens(request: TokenCountRequest): Promise<number> {
    const plan = this.plan(request.model);
    if (!plan) return this.options.local.countChatTokens(request);
    const target = plan.targets[0]!;
    return target.provider.countChatTokens({ ...request, model: target.model });
  }

  /** Each configured upstream's circuit (closed until first used), for the admin API. */
  upstreamStates(): { provider: string; state: 'closed' | 'open' | 'half_open'; failures: number }[] {
    const keys = [...this.options.upstreams].flatMap(([id, entry]) => (entry.pool ? entry.pool.members.map((member) => member.upstream) : [id]));
    return keys.map((provider) => {
      const breaker = this.options.resilience.breakers.peek(provider);
      return { provider, state: breaker?.state ?? 'closed', failures: breaker?.failures ?? 0 };
    });
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.options.upstreams.values()].map((entry) => entry.provider.dispose()));
    await this.options.local.dispose();
  }

  /** The targets for a model id, the egress policy applied; undefined for a plain local model. */
  private plan(model: string): Plan | undefined {
    const planned = this.routePlans.get(model) ?? this.planOf(model);
    if (planned instanceof EgressRefusal) throw egressBlocked(model, planned.reasons);
    return planned;
  }

  private planOf(model: string): Plan | EgressRefusal | undefined {
    const { local, upstreams, egress } = this.options;
    const route = this.routes.get(model);
    let targets: Target[];
    if (route) {
      targets = route.targets.map((settings) => targetOf(settings.provider, settings.model, settings.weight, local, upstreams));
    } else {
      const slash = model.indexOf('/');
      const providerId = slash > 0 ? model.slice(0, slash) : undefined;
      if (!providerId || !upstreams.has(providerId)) return undefined;
      targets = [targetOf(providerId, model.slice(slash + 1), undefined, local, upstreams)];
    }
    const reasons: string[] = [];
    // A pool is refused whole when one of its members is: a pool serves from all its members.
    const allowed = targets.filter((target) => {
      const urls = target.local ? [] : target.pool ? target.pool.pool.members.map((member) => member.baseUrl) : [target.baseUrl!];
      const refusal = urls.map((url) => egressRefusal(url, egress)).find((found) => found !== undefined);
      if (refusal) reasons.push(refusal);
      return !refusal;
    });
    if (allowed.length === 0) return new EgressRefusal(reasons);
    return { ...(route ? { route } : {}), targets: allowed, chain: chainOf(allowed), pooled: allowed.some((target) => target.pool) };
  }

  /** Serves a generation: from the cache when it holds the answer, else from the model's
   *  targets, recording the answer for next time. The cache is keyed on the public model id. */
  private async generate<R extends ChatRequest | CompletionRequest>(
    request: R,
    call: (provider: Provider, request: R) => Promise<Generation>,
    redactable: boolean,
  ): Promise<Generation> {
    const plan = this.plan(request.model);
    const { cache } = this.options;
    if (!cache) return this.serve(request, plan, call, redactable);
    const cacheOptions = { model: request.model, bypass: request.cacheBypass === true, cacheNonDeterministic: plan?.route?.cache === true || request.cacheAlways === true };
    const cached = await this.lookup(cache, request, cacheOptions);
    if (cached) return { ...cached, cacheStatus: 'hit' };
    const generation = cache.record(request, await this.serve(request, plan, call, redactable), cacheOptions);
    return { ...generation, cacheStatus: cacheOptions.bypass ? 'bypass' : 'miss' };
  }

  /** The cache lookup, under its own span when tracing is on. */
  private async lookup(cache: ResponseCache, request: ChatRequest | CompletionRequest, options: NonNullable<Parameters<ResponseCache['lookup']>[1]>) {
    const { tracing } = this.options;
    if (!tracing) return cache.lookup(request, options);
    const span = tracing.startSpan(spanNames.cacheLookup, { attributes: { [attributeNames.model]: request.model, [attributeNames.cacheBypass]: options.bypass } });
    try {
      const cached = await cache.lookup(request, options);
      span.setAttributes({ [attributeNames.cacheHit]: cached !== undefined });
      span.end();
      return cached;
    } catch (error) {
      span.fail(error);
      throw error;
    }
  }

  private async serve<R extends ChatRequest | CompletionRequest>(
    request: R,
    plan: Plan | undefined,
    call: (provider: Provider, request: R) => Promise<Generation>,
    redactable: boolean,
  ): Promise<Generation> {
    const { tracing } = this.options;
    if (!plan) {
      if (!tracing) return call(this.options.local, request);
      return tracedGeneration(tracing, spanNames.generation, { [attributeNames.model]: request.model }, () => call(this.options.local, request));
    }
    const redactor = plan.route && redactable ? this.redactors.get(plan.route.model) : undefined;
    // Pools become their members, in the order each pool picks for this request.
    const chain = plan.pooled ? planAttemptOrder(plan.chain).flatMap((target) => (target.pool ? memberTargetsOf(target.pool, request) : [target])) : plan.chain;
    const attempt = async (target: Target, signal: AbortSignal, traceparent?: string): Promise<Generation> => {
      const sent = { ...request, model: target.model, signal, ...(traceparent !== undefined && { traceparent }) };
      if (!redactor || target.local) return call(target.provider, sent);
      const redacted = redactor.redact(sent as ChatRequest);
      return redacted.restoreGeneration(await call(target.provider, redacted.request as R));
    };
    const served = await generateWithFallback(
      chain,
      (target, context) => {
        const traced = (): Promise<Generation> => {
          if (!tracing) return attempt(target, context.signal);
          if (target.local) return tracedGeneration(tracing, spanNames.generation, { [attributeNames.model]: target.model }, () => attempt(target, context.signal));
          const attributes = { [attributeNames.model]: target.model, [attributeNames.upstream]: target.upstream, [attributeNames.retry]: context.retry };
          return tracedGeneration(tracing, spanNames.upstreamAttempt, attributes, (span) => attempt(target, context.signal, span.traceparent), true);
        };
        return target.member ? target.member.pool.track(target.member.index, traced) : traced();
      },
      this.policy,
      request.signal,
      (target) => request.stream === false && target.provider.answersWhole === true,
    );
    return { promptTokens: served.promptTokens, maxTokens: served.maxTokens, events: served.events };
  }
}
