export { createResponseCache, type ResponseCache, type ResponseCacheOptions, type CacheRequestOptions } from './responseCache.js';
export { cacheKey, isDeterministic, type CacheableRequest, type CacheKeyOptions } from './cacheKey.js';
export type { CachedGeneration } from './entry.js';
export type { CacheLogger } from './guardedStore.js';
export type { CacheResult } from './metrics.js';
