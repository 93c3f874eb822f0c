import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics/index.js';
import type { Store } from '../store/index.js';

function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

/** Metrics and the request log, written once per request when its connection is done with it.
 *  The raw 'close' event, not fastify's onResponse hook, because onResponse does not run for a
 *  hijacked (streaming) response whose client hung up. */
export function installObservability(app: FastifyInstance, deps: { metrics: Metrics; store: Store; logPrompts: boolean }): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () => record(request, reply, deps));
  });
}

function record(request: FastifyRequest, reply: FastifyReply, deps: { metrics: Metrics; store: Store; logPrompts: boolean }): void {
  const { metrics, store } = deps;
  const seconds = (performance.now() - request.startedAt) / 1000;
  const status = reply.raw.statusCode;
  const labels = { method: request.method, route: routeLabel(request), status: String(status) };
  metrics.httpRequests.inc(labels);
  metrics.httpDuration.observe(labels, seconds);
  const accounting = request.accounting;
  // The connection closed before the response was complete: the client hung up.
  if (!reply.raw.writableFinished) request.errorCode ??= 'client_closed_request';
  if (accounting.model) {
    if (accounting.promptTokens) metrics.promptTokens.inc({ model: accounting.model }, accounting.promptTokens);
    if (accounting.completionTokens) metrics.completionTokens.inc({ model: accounting.model }, accounting.completionTokens);
    if (accounting.ttftMs !== undefined) metrics.timeToFirstToken.observe({ model: accounting.model }, accounting.ttftMs / 1000);
  }
  // Health checks and scrapes would drown the log; only API calls are recorded.
  if (!request.url.startsWith('/v1/')) return;
  try {
    store.requestLog.insert({
      id: request.id,
      createdAt: Date.now(),
      route: routeLabel(request),
      method: request.method,
      model: accounting.model ?? null,
      status,
      promptTokens: accounting.promptTokens ?? null,
      completionTokens: accounting.completionTokens ?? null,
      latencyMs: seconds * 1000,
      ttftMs: accounting.ttftMs ?? null,
      stream: accounting.stream ?? false,
      errorCode: request.errorCode ?? null,
      promptText: deps.logPrompts ? (accounting.promptText ?? null) : null,
      keyId: request.apiKey?.id ?? null,
    });
  } catch (error) {
    request.log.error({ err: error }, 'could not write the request log');
  }
}
