import type Keyv from 'keyv';
import { isCachedGeneration, type CachedGeneration } from './entry.js';
import { isOpen, openKeyv, purgeExpired, type StoreLocation } from './stores.js';

export type StoreOperation = 'get' | 'set' | 'purge';

/** pino's shape, narrowed to what the cache logs. */
export interface CacheLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface GuardedStoreOptions {
  location: StoreLocation;
  /** Longest wait for one store operation (and for connecting). */
  timeoutMs: number;
  /** After a failure the store is left alone this long: look-ups miss at once instead of each
   *  paying for a connection attempt to a server that is down. */
  retryAfterMs: number;
  logger: CacheLogger;
  onError(operation: StoreOperation): void;
  now?: () => number;
}

/** The cache's store, made harmless: an unreachable or failing store reads as empty and drops
 *  writes, so requests never fail because of the cache. One line is logged when an outage
 *  starts and one when it ends, not one per request. */
export class GuardedStore {
  #keyv: Promise<Keyv> | undefined;
  #unavailableUntil = 0;
  #failing = false;
  readonly #now: () => number;

  constructor(private readonly options: GuardedStoreOptions) {
    this.#now = options.now ?? Date.now;
  }

  async get(key: string): Promise<CachedGeneration | undefined> {
    const value = await this.#attempt('get', (keyv) => keyv.get<unknown>(key));
    return isCachedGeneration(value) ? value : undefined;
  }

  async set(key: string, entry: CachedGeneration, ttlMs: number): Promise<void> {
    await this.#attempt('set', (keyv) => keyv.set(key, entry, ttlMs));
  }

  async purgeExpired(): Promise<void> {
    await this.#attempt('purge', (keyv) => purgeExpired(keyv, this.#now()));
  }

  async close(): Promise<void> {
    const keyv = this.#keyv;
    this.#keyv = undefined;
    await disconnectQuietly(keyv);
  }

  /** The open store; a fresh one when there is none, or when the server closed the connection
   *  since the last operation (see openKeyv on why not to reconnect the old one). */
  async #open(): Promise<Keyv> {
    const current = (this.#keyv ??= openKeyv(this.options.location, this.options.timeoutMs));
    if (isOpen(await current)) return current;
    if (this.#keyv === current) {
      this.#keyv = undefined;
      void disconnectQuietly(current);
    }
    return (this.#keyv ??= openKeyv(this.options.location, this.options.timeoutMs));
  }

  async #attempt<T>(operation: StoreOperation, run: (keyv: Keyv) => Promise<T>): Promise<T | undefined> {
    if (this.#now() < this.#unavailableUntil) return undefined;
    try {
      const result = await withTimeout(this.#open().then(run), this.options.timeoutMs, `cache ${operation}`);
      if (this.#failing) {
        this.#failing = false;
        this.options.logger.info({ store: describe(this.options.location) }, 'response cache store is reachable again');
      }
      return result;
    } catch (error) {
      this.options.onError(operation);
      this.#unavailableUntil = this.#now() + this.options.retryAfterMs;
      if (!this.#failing) {
        this.#failing = true;
        this.options.logger.warn(
          { store: describe(this.options.location), err: error, retryAfterMs: this.options.retryAfterMs },
          'response cache store failed; serving without the cache until it is back',
        );
      }
      const broken = this.#keyv;
      this.#keyv = undefined;
      void disconnectQuietly(broken);
      return undefined;
    }
  }
}

async function disconnectQuietly(keyv: Promise<Keyv> | undefined): Promise<void> {
  try {
    await (await keyv)?.disconnect();
  } catch {
    // Already closed, or never connected: nothing left to release.
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The store for logs, without a password that a Redis URL may carry. */
function describe(location: StoreLocation): string {
  if ('sqlitePath' in location) return location.sqlitePath;
  const url = new URL(location.redisUrl);
  url.password = '';
  url.username = '';
  return url.toString();
}
