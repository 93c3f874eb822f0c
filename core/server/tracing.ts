import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TraceSpan, Tracing } from '../tracing/index.js';
import { attributeNames } from '../tracing/generation.js';
import type { RequestContext } from './requestContext.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span (tracing on only). */
    traceSpan?: TraceSpan;
  }
}

/** One trace per request (tracing on only; buildServer does not call this otherwise): the server
 *  span starts first thing, as a child of the caller's `traceparent` when it sends a valid one;
 *  the request's log lines carry its trace id; the route handler runs with the span active, so the
 *  router's spans (cache, upstream attempts, generation) become its children; it ends with the
 *  request, with the status, model, tokens and TTFT (never the prompt). */
const untracedRoutes = new Set(['/healthz', '/readyz', '/metrics']);

export function installTracing(app: FastifyInstance, context: RequestContext, tracing: Tracing): void {
  app.decorateRequest('traceSpan', undefined);
  app.addHook('onRequest', (request, reply, done) => {
    // Probes and scrapes every few seconds would bury the traces of real requests.
    if (untracedRoutes.has(request.routeOptions.url ?? '')) return done();
    const traceparent = request.headers.traceparent;
    const span = tracing.startServerSpan(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`, typeof traceparent === 'string' ? traceparent : undefined, {
      'http.request.method': request.method,
      'url.path': request.url.split('?')[0],
      'http.route': request.routeOptions.url,
      'llmsvc.request_id': request.id,
    });
    request.traceSpan = span;
    // trace_id: the field OpenTelemetry's own log instrumentations write, which log-to-trace links look for.
    request.log = reply.log = request.log.child({ trace_id: span.traceId });
    done();
  });
  // After the body is read: what the handler starts (after awaits too) is a child of the span.
  app.addHook('preHandler', (request, _reply, done) => {
    if (request.traceSpan) tracing.withActive(request.traceSpan, done);
    else done();
  });
  context.onRequestEnd((request, reply) => endServerSpan(request, reply.raw.statusCode, reply.raw.writableFinished));
}

function endServerSpan(request: FastifyRequest, status: number, finished: boolean): void {
  const span = request.traceSpan;
  if (!span) return;
  const { model, promptTokens, completionTokens, ttftMs, cacheStatus } = request.accounting ?? {};
  span.setAttributes({
    'http.response.status_code': status,
    [attributeNames.model]: model,
    [attributeNames.inputTokens]: promptTokens,
    [attributeNames.outputTokens]: completionTokens,
    [attributeNames.ttftMs]: ttftMs === undefined ? undefined : Math.round(ttftMs * 100) / 100,
    'llmsvc.cache.status': cacheStatus,
    'llmsvc.client_closed': !finished || undefined,
    'llmsvc.key_id': request.apiKey?.id,
  });
  // As OpenTelemetry's HTTP conventions say: a server span fails on a 5xx, not on the client's 4xx.
  if (status >= 500) span.fail({ code: request.errorCode ?? `http_${status}` });
  else {
    span.setAttributes({ 'error.type': request.errorCode });
    span.end();
  }
}
