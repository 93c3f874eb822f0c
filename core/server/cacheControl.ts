import type { FastifyReply, FastifyRequest } from 'fastify';

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

/** Sends a generation's JSON answer saying whether it came from the cache (`x-llmsvc-cache:
 *  hit|miss|bypass`); streams say it when they open (SseWriter). In the routes rather than an
 *  onSend hook, which every response of every route would pay for. */
export function sendGeneration(request: FastifyRequest, reply: FastifyReply, body: object): FastifyReply {
  const status = request.accounting.cacheStatus;
  if (status) void reply.header(cacheStatusHeader, status);
  return reply.send(body);
}
