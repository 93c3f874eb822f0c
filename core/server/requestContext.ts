import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** What a route learns about its request that the request log and metrics want. */
export interface RequestAccounting {
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  /** Milliseconds from arrival to the first generated token. */
  ttftMs?: number;
  stream?: boolean;
  /** The prompt as the client sent it; serialised into the request log only when log_prompts is on. */
  prompt?: unknown;
  /** Whether the answer came from the response cache (x-llmsvc-cache). */
  cacheStatus?: 'hit' | 'miss' | 'bypass';
}

declare module 'fastify' {
  interface FastifyRequest {
    startedAt: number;
    /** Aborted when the client goes away before the response is complete, or at forced shutdown. */
    abortSignal: AbortSignal;
    accounting: RequestAccounting;
    errorCode?: string;
  }
}

/** Runs once per request, when its connection is done with it (response sent, or client gone). */
export type RequestEndHandler = (request: FastifyRequest, reply: FastifyReply) => void;

export interface RequestContext {
  /** Adds a handler for the end of every request; handlers run in the order they were added. */
  onRequestEnd(handler: RequestEndHandler): void;
}

/** Gives every request its start time, an abort signal tied to the client's connection and to
 *  server shutdown, and its x-request-id response header; and tells the request-end handlers
 *  (accounting, the request log) when it is over. The raw 'close' event, not fastify's onResponse
 *  hook, because onResponse does not run for a hijacked (streaming) response whose client hung up.
 *  One 'close' listener per request runs every handler, and the shutdown signal has one listener
 *  that aborts every in-flight request's controller (a Set of them), rather than a listener per
 *  request added and removed on an EventTarget. */
export function installRequestContext(app: FastifyInstance, shutdownSignal: AbortSignal): RequestContext {
  const endHandlers: RequestEndHandler[] = [];
  app.decorateRequest('startedAt', 0);
  app.decorateRequest('abortSignal', null as unknown as AbortSignal);
  app.decorateRequest('accounting', null as unknown as RequestAccounting);
  app.decorateRequest('errorCode', undefined);
  const inFlight = new Set<AbortController>();
  shutdownSignal.addEventListener(
    'abort',
    () => {
      for (const controller of inFlight) controller.abort(shutdownSignal.reason);
      inFlight.clear();
    },
    { once: true },
  );
  app.addHook('onRequest', (request, reply, done) => {
    request.startedAt = performance.now();
    request.accounting = {};
    const controller = new AbortController();
    if (!shutdownSignal.aborted) inFlight.add(controller);
    reply.raw.once('close', () => {
      inFlight.delete(controller);
      if (!reply.raw.writableFinished) controller.abort(new Error('The client closed the connection.'));
      for (const handler of endHandlers) handler(request, reply);
    });
    request.abortSignal = controller.signal;
    void reply.header('x-request-id', request.id);
    done();
  });
  return { onRequestEnd: (handler) => endHandlers.push(handler) };
}
