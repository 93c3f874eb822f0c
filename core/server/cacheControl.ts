import type { FastifyInstance, FastifyRequest } from 'fastify';

/** The client asks to skip the response cache with `x-llmsvc-cache: bypass` or, as HTTP caches
 *  understand it, `cache-control: no-cache` / `no-store`. */
export function cacheBypassOf(request: FastifyRequest): boolean {
  const asked = request.headers['x-llmsvc-cache'];
  if (typeof asked === 'string' && asked.toLowerCase() === 'bypass') return true;
  const cacheControl = request.headers['cache-control'];
  return typeof cacheControl === 'string' && /(^|,)\s*no-(cache|store)\s*(,|$)/i.test(cacheControl);
}

/** The caller's API key opted in to the response cache (`cache: true`): answers to it are cached
 *  even when sampling is random, as a route's `cache: true` does for every caller. */
export function cacheAlwaysOf(request: FastifyRequest): boolean {
  return request.apiKey?.cache === true;
}

export const cacheStatusHeader = 'x-llmsvc-cache';

/** Answers say whether they came from the cache: `x-llmsvc-cache: hit|miss|bypass`. Streams copy
 *  it when they open (SseWriter); JSON answers get it here. */
export function installCacheStatusHeader(app: FastifyInstance): void {
  // Callback style: an async hook costs a promise on every response.
  app.addHook('onSend', (request, reply, payload, done) => {
    const status = request.accounting?.cacheStatus;
    if (status) void reply.header(cacheStatusHeader, status);
    done(null, payload);
  });
}
