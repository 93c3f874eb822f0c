import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { Generation } from '../providers/types.js';
import { cacheKey, isDeterministic, type CacheableRequest, type CacheKeyOptions } from './cacheKey.js';
import { recording, replay } from './entry.js';
import { GuardedStore, type CacheLogger } from './guardedStore.js';
import { createCacheMetrics, type CacheResult } from './metrics.js';
import type { StoreLocation } from './stores.js';

export interface ResponseCacheOptions {
  /** The data dir: entries go to <dataDir>/cache.sqlite unless `redisUrl` is given. */
  dataDir: string;
  /** Keep entries in Redis instead (config `redis_url`). */
  redisUrl?: string;
  /** How long an entry is served (config `cache_ttl_s` × 1000). Default: one hour. */
  ttlMs?: number;
  /** Metrics go here: llmsvc_cache_requests_total{result}, llmsvc_cache_errors_total{operation}. */
  registry: Registry;
  logger?: CacheLogger;
  /** Longest wait for one store operation before it counts as a miss. Default 1 s. */
  timeoutMs?: number;
  /** After a store failure, how long to serve without the store before trying again. Default 5 s. */
  retryAfterMs?: number;
  /** How often the SQLite file is swept of expired entries. Default: hourly. */
  purgeIntervalMs?: number;
  /** Sweep at all (default true): of several processes sharing the file (`serve --workers N`),
   *  one sweeps. */
  purge?: boolean;
}

/** Per-request choices, the same for `lookup` and `record`. */
export interface CacheRequestOptions extends CacheKeyOptions {
  /** Neither read nor write (the client asked: `x-llmsvc-cache: bypass`, `cache-control: no-cache`). */
  bypass?: boolean;
  /** Cache even a non-deterministic request (the route's or the API key's `cache: true`). */
  cacheNonDeterministic?: boolean;
  /** This entry's lifetime, instead of the cache's. */
  ttlMs?: number;
}

export interface ResponseCache {
  /** A replay of the stored answer to this request, or undefined (miss, bypass, not cacheable,
   *  or the store is unreachable). Counts the outcome. Never throws for a store failure. */
  lookup(request: CacheableRequest, options?: CacheRequestOptions): Promise<Generation | undefined>;
  /** The same generation, recorded as it is read; stored when it ends normally. Returns it
   *  unchanged when the request is not to be cached. */
  record(request: CacheableRequest, generation: Generation, options?: CacheRequestOptions): Generation;
  /** Resolves when every store write started so far has finished (tests, shutdown). */
  settled(): Promise<void>;
  /** Waits for pending writes, then closes the store's connection. */
  dispose(): Promise<void>;
}

const hour = 3_600_000;

export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  const metrics = createCacheMetrics(options.registry);
  const logger = options.logger ?? silentLogger;
  const location: StoreLocation = options.redisUrl
    ? { redisUrl: options.redisUrl }
    : { sqlitePath: path.join(options.dataDir, 'cache.sqlite') };
  const store = new GuardedStore({
    location,
    timeoutMs: options.timeoutMs ?? 1_000,
    retryAfterMs: options.retryAfterMs ?? 5_000,
    logger,
    onError: (operation) => metrics.errors.inc({ operation }),
  });
  const defaultTtlMs = options.ttlMs ?? hour;
  const pendingWrites = new Set<Promise<void>>();
  let disposed = false;

  const track = (write: Promise<void>) => {
    pendingWrites.add(write);
    void write.finally(() => pendingWrites.delete(write));
  };
  const settled = async () => {
    while (pendingWrites.size > 0) await Promise.all(pendingWrites);
  };

  // Only SQLite needs sweeping, and only once the file exists: opening it loads the sqlite3 addon
  // and @keyv/sqlite, which a box whose keys never use the cache need not hold (start-up time and
  // idle memory). With a file, the first sweep opens it at start-up.
  let purgeTimer: NodeJS.Timeout | undefined;
  if ('sqlitePath' in location && options.purge !== false) {
    const { sqlitePath } = location;
    const sweep = () => {
      if (existsSync(sqlitePath)) track(store.purgeExpired());
    };
    sweep();
    purgeTimer = setInterval(sweep, options.purgeIntervalMs ?? hour).unref();
  }

  /** Why a request skips the cache, or undefined when it may use it. */
  const skipReason = (request: CacheableRequest, requestOptions: CacheRequestOptions): CacheResult | undefined => {
    if (requestOptions.bypass) return 'bypass';
    if (!isDeterministic(request) && !requestOptions.cacheNonDeterministic) return 'uncacheable';
    return undefined;
  };
  const assertLive = () => {
    if (disposed) throw new Error('The response cache has been disposed; create a new one.');
  };

  return {
    async lookup(request, requestOptions = {}) {
      assertLive();
      const skip = skipReason(request, requestOptions);
      if (skip) {
        metrics.requests.inc({ result: skip });
        return undefined;
      }
      const entry = await store.get(cacheKey(request, requestOptions));
      metrics.requests.inc({ result: entry ? 'hit' : 'miss' });
      return entry && replay(entry);
    },

    record(request, generation, requestOptions = {}) {
      assertLive();
      if (skipReason(request, requestOptions)) return generation;
      const key = cacheKey(request, requestOptions);
      const ttlMs = requestOptions.ttlMs ?? defaultTtlMs;
      return recording(
        generation,
        (entry) => {
          if (!disposed) track(store.set(key, entry, ttlMs));
        },
        request.signal,
      );
    },

    settled,

    async dispose() {
      if (disposed) return;
      disposed = true;
      clearInterval(purgeTimer);
      await settled();
      await store.close();
    },
  };
}

const silentLogger: CacheLogger = { warn() {}, info() {} };
