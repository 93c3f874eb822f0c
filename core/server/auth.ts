import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  formatReset,
  hashSecret,
  hasTokenQuota,
  modelAllowed,
  msUntilNextUtcDay,
  msUntilNextUtcMonth,
  utcDay,
  utcMonthStartDay,
  type Clock,
  type Admitted,
  type QuotaUsage,
  type FailureThrottle,
  type KeyService,
  type RateLimiter,
  type TokenReservation,
} from '../auth/index.js';
import type { Config } from '../config/index.js';
import { ApiError } from '../errors/index.js';
import type { ApiKeyRecord, RequestLedgerStore, Store } from '../store/index.js';
import type { InternalCaller } from './batchLines.js';
import type { RequestContext } from './requestContext.js';
import type { Tracing } from '../tracing/index.js';
import { spanNames } from '../tracing/generation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key; undefined only when auth is off. */
    apiKey?: ApiKeyRecord;
    /** Reserves tokens against the caller's TPM and quotas before generation starts; throws the
     *  429. A promise with the Redis limiter (await it when one is returned). */
    reserveTokens(tokens: number): void | Promise<void>;
    /** The key's admission and token reservations, released when the request ends. */
    admission?: Admission;
  }
}

interface Admission {
  /** Frees the key's concurrency slot. */
  release: () => void;
  reservations: TokenReservation[];
  /** The request is over: a reservation granted after this (the Redis limiter answering late)
   *  is settled at once. */
  ended: boolean;
}

export interface AuthDeps {
  config: Config;
  store: Store;
  /** Flushed before a quota check, so the check sees every request that has ended. */
  ledger: RequestLedgerStore;
  keys: KeyService;
  clock: Clock;
  limiter: RateLimiter;
  /** Failed authentications per address (in memory, in the primary of `serve --workers N`, or in Redis). */
  throttle: FailureThrottle;
  /** Recognises batch lines injected by the batch worker (they run as the submitting key). */
  internal?: InternalCaller;
  /** The admin console's sign-in sessions (core/server/routes/console): its pages and sign-in
   *  route need no key, and a request without a key header may present a session cookie. */
  sessions?: SessionAuth;
  /** Tracing on: authentication and admission get a span of their own. */
  tracing?: Tracing;
}

export interface SessionAuth {
  /** The console's page and sign-in routes, which need no key. */
  isPublic(request: FastifyRequest): boolean;
  /** The key behind the request's session cookie (CSRF checked on changes), or undefined. */
  authenticate(request: FastifyRequest): Promise<ApiKeyRecord | undefined>;
}

const publicRoutes = new Set(['/healthz', '/readyz']);
const noRelease = () => {};
/** What the limiters are given when they will not ask (no quota, or no tokens reserved). */
const noQuotaUsage = (): QuotaUsage => ({ day: 0, month: 0, msUntilDayEnds: 0, msUntilMonthEnds: 0 });

/** The secret from `Authorization: Bearer …` (OpenAI SDKs) or `x-api-key` (Anthropic SDK); or, for
 *  an Authorization header of another form (the raw key, another scheme), what is wrong with it. */
function presentedSecret(request: FastifyRequest): { secret?: string; malformed?: string } {
  const apiKey = request.headers['x-api-key'];
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && authorization.trim() !== '') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return { secret: match[1] };
    if (typeof apiKey !== 'string' || apiKey.length === 0) return { malformed: describeMalformedAuthorization(authorization) };
  }
  return typeof apiKey === 'string' && apiKey.length > 0 ? { secret: apiKey } : {};
}

function missingKeyError(): ApiError {
  return new ApiError(
    'LLMSVC_ERR_MISSING_API_KEY',
    "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (OpenAI SDKs) or 'x-api-key: <key>' (Anthropic SDK); the operator creates keys with 'llmsvc keys create'.",
  );
}

/** HTTP authentication schemes a client may send by mistake; only these are named back (a value
 *  that is not one of them may be a secret, which an error message must not echo). */
const knownSchemes = new Set(['basic', 'digest', 'token', 'apikey', 'api-key', 'key', 'negotiate', 'ntlm', 'dpop', 'hoba', 'mutual', 'aws4-hmac-sha256']);

/** A sentence on an Authorization header that is not `Bearer <key>`. */
function describeMalformedAuthorization(authorization: string): string {
  const words = authorization.trim().split(/\s+/);
  const fix = "The Authorization header must be 'Bearer <key>' (the word Bearer, a space, then the key), or send the key alone as 'x-api-key: <key>'.";
  const first = words[0]!.toLowerCase();
  if (words.length === 1 && first === 'bearer') return `The Authorization header says 'Bearer' but no key follows it. ${fix}`;
  if (words.length === 1) return `The Authorization header holds a value without the 'Bearer ' scheme (a raw key?). ${fix}`;
  if (knownSchemes.has(first)) return `The Authorization header uses the '${words[0]}' scheme; llmsvc accepts API keys as Bearer tokens only. ${fix}`;
  return `The Authorization header does not start with 'Bearer '. ${fix}`;
}

/** Routes whose work is measured in tokens (and so count against TPM and quotas). */
function consumesTokens(request: FastifyRequest): boolean {
  return request.method === 'POST' && request.url.startsWith('/v1/');
}

/** The model a request names: the body's `model`, or the id of GET /v1/models/{id}. */
function requestedModel(request: FastifyRequest): string | undefined {
  const body = request.body as { model?: unknown } | undefined;
  if (body && typeof body.model === 'string') return body.model;
  const wildcard = (request.params as Record<string, string> | undefined)?.['*'];
  return request.routeOptions.url === '/v1/models/*' ? wildcard : undefined;
}

/** Authentication, scopes, rate limits, quotas and usage accounting, as fastify hooks. */
export function installAuth(app: FastifyInstance, context: RequestContext, deps: AuthDeps): void {
  const { config, store, keys, clock, ledger, limiter, throttle } = deps;
  const metricsTokenHash = config.metrics_token ? hashSecret(config.metrics_token) : undefined;
  /** The key's day and month usage, every ended request included. Read before the limiter is
   *  asked (which takes it synchronously), and only for a key with a quota. */
  const readQuotaUsage = async (key: ApiKeyRecord): Promise<QuotaUsage> => {
    await ledger.flush();
    const now = clock();
    const today = utcDay(now);
    return {
      day: await store.usage.tokensBetween(key.id, today, today),
      month: await store.usage.tokensBetween(key.id, utcMonthStartDay(now), today),
      msUntilDayEnds: msUntilNextUtcDay(now),
      msUntilMonthEnds: msUntilNextUtcMonth(now),
    };
  };
  /** Runs `use` with the key's quota usage: at once when no tokens are reserved (`reserves`
   *  false) or the key has no quota (the limiters ask for usage only then), after reading it
   *  otherwise. */
  function withQuotaUsage<T>(key: ApiKeyRecord, reserves: boolean, use: (quota: () => QuotaUsage) => T | Promise<T>): T | Promise<T> {
    if (!reserves || !hasTokenQuota(key)) return use(noQuotaUsage);
    return readQuotaUsage(key).then((usage) => use(() => usage));
  }

  app.decorateRequest('apiKey', undefined);
  app.decorateRequest('reserveTokens', function (this: FastifyRequest) {});
  app.decorateRequest('admission', undefined);

  // Callback-style hooks: an async one costs a promise and a microtask turn on every request
  // (the in-process limiter answers synchronously; only the Redis one returns a promise).
  app.addHook('onRequest', (request, reply, done) => {
    const span = request.traceSpan && deps.tracing?.startSpan(spanNames.auth, { parent: request.traceSpan });
    const authorized = () => {
      span?.setAttributes({ 'llmsvc.key_id': request.apiKey?.id });
      span?.end();
      done();
    };
    const refused = (error: unknown) => {
      span?.fail(error);
      done(error as Error);
    };
    let pending: Promise<void> | void;
    try {
      pending = authorize(request, reply);
    } catch (error) {
      refused(error);
      return;
    }
    if (pending) pending.then(authorized, refused);
    else authorized();
  });
  context.onRequestEnd((request) => {
    const admission = request.admission;
    if (!admission) return;
    admission.ended = true;
    admission.release();
    settle(request, admission.reservations);
  });

  function authorize(request: FastifyRequest, reply: FastifyReply): void | Promise<void> {
    const path = request.url.split('?')[0]!;
    if (!config.auth || publicRoutes.has(path) || deps.sessions?.isPublic(request)) return;
    const batchKeyId = deps.internal?.batchKeyOf(request);
    const { secret, malformed } = batchKeyId === undefined ? presentedSecret(request) : {};
    if (path === '/metrics' && secret && metricsTokenHash && hashSecret(secret) === metricsTokenHash) return;
    const refuse = (error: unknown): never | Promise<never> => {
      // A batch line of a revoked key is not a failed login from an address.
      if (batchKeyId !== undefined) throw error;
      const waitMs = throttle.recordFailure(request.ip);
      if (typeof waitMs === 'number') throw authFailure(request.ip, error, waitMs);
      return waitMs.then((wait) => {
        throw authFailure(request.ip, error, wait);
      });
    };
    let key: ApiKeyRecord | Promise<ApiKeyRecord>;
    try {
      if (batchKeyId !== undefined) key = keys.usableById(batchKeyId);
      // A key was sent, but not as 'Bearer <key>': say what is wrong rather than "no key".
      else if (malformed) throw new ApiError('LLMSVC_ERR_INVALID_API_KEY', malformed);
      else if (!secret) {
        // No key header at all: the console's session cookie may stand for one.
        const sessions = deps.sessions;
        if (!sessions) throw missingKeyError();
        key = sessions.authenticate(request).then((sessionKey) => {
          if (!sessionKey) throw missingKeyError();
          return sessionKey;
        });
      } else key = keys.authenticate(secret);
    } catch (error) {
      return refuse(error);
    }
    // A key the cache held is checked in this turn; one read from the store, when it arrives.
    if (key instanceof Promise) return key.then((found) => authorizeKey(request, reply, path, found), refuse);
    return authorizeKey(request, reply, path, key);
  }

  /** Scope, then admission by the limiter, for an authenticated key. */
  function authorizeKey(request: FastifyRequest, reply: FastifyReply, path: string, key: ApiKeyRecord): void | Promise<void> {
    request.apiKey = key;
    // From here on the request counts in the key's usage, refused or not.
    const adminOnly = path.startsWith('/admin/') || path === '/metrics';
    if (adminOnly && key.scope !== 'admin') {
      throw new ApiError('LLMSVC_ERR_SCOPE_NOT_ALLOWED', `This key's scope ('${key.scope}') does not allow ${request.method} ${path}; it needs an admin key.`);
    }
    const admission: Admission = { release: noRelease, reservations: [], ended: false };
    request.admission = admission;
    const reserves = consumesTokens(request);
    const admitted = withQuotaUsage(key, reserves, (quota) => limiter.admit(key, reserves ? 0 : undefined, quota));
    if (admitted instanceof Promise) return admitted.then((result) => admit(request, reply, key, admission, result));
    admit(request, reply, key, admission, admitted);
  }

  /** Holds the admission on the request (released when it ends), or throws the 429. */
  function admit(request: FastifyRequest, reply: FastifyReply, key: ApiKeyRecord, admission: Admission, admitted: Admitted): void {
    admission.release = admitted.release;
    // The client left while the Redis limiter answered: nothing will end the request again.
    if (admission.ended) admitted.release();
    if (admitted.reservation) addReservation(admission, admitted.reservation);
    request.reserveTokens = (tokens) => {
      const reservation = withQuotaUsage(key, true, (quota) => limiter.reserve(key, tokens, quota));
      if (reservation instanceof Promise) return reservation.then((granted) => addReservation(admission, granted));
      addReservation(admission, reservation);
    };
    if (admitted.refusal) throw admitted.refusal;
    void reply.headers(admitted.headers);
  }

  function addReservation(admission: Admission, reservation: TokenReservation): void {
    if (admission.ended) reservation.settle(0);
    else admission.reservations.push(reservation);
  }

  /** A failed authentication: a 401, or a 429 once the address failed too often. Valid keys from
   *  that address still work, so one misconfigured script cannot lock a whole office out. */
  function authFailure(address: string, error: unknown, waitMs: number): unknown {
    if (waitMs === 0) return error;
    return new ApiError('LLMSVC_ERR_AUTH_THROTTLED', `Too many requests with a missing or invalid API key from ${address}. Retry in ${formatReset(waitMs)} with a valid key.`, null, {
      'retry-after': String(Math.ceil(waitMs / 1000)),
    });
  }

  app.addHook('preHandler', (request, _reply, done) => {
    const key = request.apiKey;
    const model = key && requestedModel(request);
    if (model !== undefined && !modelAllowed(key!.models, model)) {
      done(new ApiError('LLMSVC_ERR_MODEL_NOT_ALLOWED', `This API key may not use model '${model}' (allowed: ${key!.models.join(', ')}). Ask the operator to allow it.`, 'model'));
      return;
    }
    done();
  });

  /** The request is done: its reservations settle to what it used (the first carries the whole
   *  use; the usage table row is written by observability, with the request log). */
  function settle(request: FastifyRequest, reservations: TokenReservation[]): void {
    if (reservations.length === 0) return;
    const used = (request.accounting?.promptTokens ?? 0) + (request.accounting?.completionTokens ?? 0);
    for (let index = 0; index < reservations.length; index++) reservations[index]!.settle(index === 0 ? used : 0);
  }
}
