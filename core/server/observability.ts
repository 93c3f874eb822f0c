import type { FastifyReply, FastifyRequest } from 'fastify';
import { utcDay, type Clock, type KeyService } from '../auth/index.js';
import type { Metrics } from '../metrics/index.js';
import type { RequestLedgerStore, RequestLogEntry, UsageRecord } from '../store/index.js';
import type { LiveStats } from './liveStats.js';
import type { RequestContext } from './requestContext.js';

export interface ObservabilityDeps {
  metrics: Metrics;
  ledger: RequestLedgerStore;
  logPrompts: boolean;
  /** The usage day of a request (injected so tests can cross a UTC day boundary). */
  clock: Clock;
  /** Decides when a key's last_used_at is written (at most once a second per key). */
  keys?: Pick<KeyService, 'shouldTouch'>;
  /** The admin API's rolling one-minute figures (fed with every finished API request). */
  live?: LiveStats;
}

function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

/** Metrics, the one log line, the request log and the key's usage, once per request when its
 *  connection is done with it.
 *
 *  One log line per request ("request completed": method, url, status, duration, request id,
 *  key id — never a secret), instead of fastify's two (buildServer turns those off). The request
 *  log row, the usage and the key's last use go to the ledger, which commits the requests that end
 *  in one event-loop turn together (see RequestLedger). */
export function installObservability(context: RequestContext, deps: ObservabilityDeps): void {
  const { ledger, clock } = deps;
  context.onRequestEnd(record);

  function record(request: FastifyRequest, reply: FastifyReply): void {
    const { metrics } = deps;
    const latencyMs = performance.now() - request.startedAt;
    const status = reply.raw.statusCode;
    const route = routeLabel(request);
    const labels = { method: request.method, route, status: String(status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, latencyMs / 1000);
    const accounting = request.accounting;
    const finished = reply.raw.writableFinished;
    // The connection closed before the response was complete: the client hung up.
    if (!finished) request.errorCode ??= 'client_closed_request';
    if (accounting.model) {
      if (accounting.promptTokens) metrics.promptTokens.inc({ model: accounting.model }, accounting.promptTokens);
      if (accounting.completionTokens) metrics.completionTokens.inc({ model: accounting.model }, accounting.completionTokens);
      if (accounting.ttftMs !== undefined) metrics.timeToFirstToken.observe({ model: accounting.model }, accounting.ttftMs / 1000);
    }
    const key = request.apiKey;
    request.log.info(
      {
        method: request.method,
        url: request.url,
        statusCode: status,
        responseTime: Math.round(latencyMs * 100) / 100,
        keyId: key?.id,
        errorCode: request.errorCode,
        remoteAddress: request.ip,
      },
      'request completed',
    );
    // Health checks and scrapes would drown the log; only API calls are recorded.
    if (!request.url.startsWith('/v1/')) return;
    if (deps.live) {
      deps.live.requestEnded();
      deps.live.record({
        status,
        model: accounting.model,
        promptTokens: accounting.promptTokens,
        completionTokens: accounting.completionTokens,
        ttftMs: accounting.ttftMs,
        cacheStatus: accounting.cacheStatus,
      });
    }
    const promptTokens = accounting.promptTokens ?? 0;
    const completionTokens = accounting.completionTokens ?? 0;
    let usage: UsageRecord | undefined;
    let touchAt: number | undefined;
    if (key) {
      // From authentication on, a request counts in its key's usage, refused or not.
      const now = clock();
      usage = { keyId: key.id, model: accounting.model ?? '', day: utcDay(now), promptTokens, completionTokens, error: status >= 400 || !finished };
      if (deps.keys?.shouldTouch(key.id, now) ?? true) touchAt = now;
    }
    const entry: RequestLogEntry = {
      id: request.id,
      createdAt: Date.now(),
      route,
      method: request.method,
      model: accounting.model ?? null,
      status,
      promptTokens: accounting.promptTokens ?? null,
      completionTokens: accounting.completionTokens ?? null,
      latencyMs,
      ttftMs: accounting.ttftMs ?? null,
      stream: accounting.stream ?? false,
      errorCode: request.errorCode ?? null,
      promptText: deps.logPrompts && accounting.prompt !== undefined ? JSON.stringify(accounting.prompt) : null,
      keyId: key?.id ?? null,
    };
    ledger.record({ log: entry, usage, touchAt });
  }
}
