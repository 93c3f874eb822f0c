import type { Secret } from '../../config/index.js';
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  Generation,
  Provider,
  ProviderModel,
  TokenCountRequest,
} from '../../providers/index.js';
import { HealthChecks, type HealthCheckSettings } from './healthCheck.js';
import { orderMembers, type MemberLoad, type MemberOrder } from './memberOrder.js';
import { conversationPrefixHash, fnv1a } from './stickyKey.js';
import { trackedGeneration } from './trackedGeneration.js';

/** One engine of a pool, as the config and the provider registry give it. */
export interface PoolMemberSpec {
  baseUrl: string;
  apiKey?: Secret;
  /** An openai-compatible provider for this member's base URL. */
  provider: Provider;
}

/** A member and what the pool knows of it now. */
export interface PoolMember extends MemberLoad {
  readonly index: number;
  readonly baseUrl: string;
  /** host and path of the base URL: names the member in metrics and logs (no credentials). */
  readonly label: string;
  /** Its circuit-breaker key, `<pool id>@<label>`. */
  readonly upstream: string;
  readonly provider: Provider;
}

export interface EnginePoolOptions {
  id: string;
  members: readonly PoolMemberSpec[];
  stickyPrefixChars: number;
  stickyMaxExtraOutstanding: number;
  healthCheck: HealthCheckSettings;
  /** Whether a member's circuit breaker is open now (the router's breakers). */
  circuitOpen: (upstream: string) => boolean;
  observer?: PoolObserver;
}

/** Told what happens in a pool: for metrics and logs. */
export interface PoolObserver {
  /** Every health check's result; `changed`: the member's health flipped. */
  health?(member: PoolMember, healthy: boolean, changed: boolean): void;
  outstanding?(member: PoolMember): void;
  sent?(member: PoolMember): void;
}

/** A pool of OpenAI-compatible engines serving the same models. The router asks it, per request,
 *  for the order in which to try its members (least outstanding requests among healthy members,
 *  the conversation's preferred member first) and runs each attempt through `track`, so that the
 *  pool counts requests in flight until their streams end. It is also a Provider for what the
 *  router calls directly (embeddings, token counts, the model list). */
export class EnginePool implements Provider {
  readonly id: string;
  readonly answersWhole = true;
  readonly members: readonly PoolMember[];
  readonly #checks: HealthChecks;
  #rotation = 0;
  #disposed = false;

  constructor(private readonly options: EnginePoolOptions) {
    this.id = options.id;
    this.members = options.members.map((spec, index) => {
      const url = new URL(spec.baseUrl);
      const label = `${url.host}${url.pathname.replace(/\/+$/, '')}`;
      return {
        index,
        baseUrl: spec.baseUrl,
        label,
        upstream: `${options.id}@${label}`,
        provider: spec.provider,
        seed: fnv1a(spec.baseUrl.replace(/\/+$/, '')),
        outstanding: 0,
        healthy: true,
        circuitOpen: false,
      };
    });
    this.#checks = new HealthChecks(options.members, options.healthCheck, (index, healthy) => {
      const member = this.members[index]!;
      const changed = member.healthy !== healthy;
      member.healthy = healthy;
      options.observer?.health?.(member, healthy, changed);
    });
    this.#checks.start();
  }

  /** The members to try for this request, best first. */
  order(request?: ChatRequest | CompletionRequest): MemberOrder {
    for (const member of this.members) member.circuitOpen = this.options.circuitOpen(member.upstream);
    const prefixHash = request && conversationPrefixHash(request, this.options.stickyPrefixChars);
    return orderMembers(this.members, {
      ...(prefixHash === undefined ? {} : { prefixHash }),
      maxExtraOutstanding: this.options.stickyMaxExtraOutstanding,
      rotation: this.#rotation++,
    });
  }

  /** Runs one attempt on a member, counting it in flight from now until its stream is over. */
  async track(index: number, start: () => Promise<Generation>): Promise<Generation> {
    const member = this.members[index]!;
    member.outstanding += 1;
    this.options.observer?.sent?.(member);
    this.options.observer?.outstanding?.(member);
    const done = () => {
      member.outstanding -= 1;
      this.options.observer?.outstanding?.(member);
    };
    let generation: Generation;
    try {
      generation = await start();
    } catch (error) {
      done();
      throw error;
    }
    return trackedGeneration(generation, done);
  }

  listModels(): ProviderModel[] {
    return this.members[0]!.provider.listModels();
  }

  chat(request: ChatRequest): Promise<Generation> {
    const index = this.order(request).order[0]!;
    return this.track(index, () => this.members[index]!.provider.chat(request));
  }

  complete(request: CompletionRequest): Promise<Generation> {
    const index = this.order(request).order[0]!;
    return this.track(index, () => this.members[index]!.provider.complete(request));
  }

  /** Embeddings try the members in order, once each. */
  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    let lastError: unknown;
    for (const index of this.order().order) {
      try {
        return await this.members[index]!.provider.embed(request);
      } catch (error) {
        if (request.signal?.aborted) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  countChatTokens(request: TokenCountRequest): Promise<number> {
    return this.members[0]!.provider.countChatTokens(request);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#checks.stop();
    await Promise.all(this.members.map((member) => member.provider.dispose()));
  }
}
