import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Metric definitions live on registries of their own (never prom-client's global one), so that
// two servers in one process (tests) do not share counters. The HTTP side and the model runtime
// (which runs in a worker thread) each have one; /metrics serves both.

/** Most metrics are per model; this is their common part. */
const byModelOn = (registry: Registry) => ({ labelNames: ['model'] as const, registers: [registry] });

/** prom-client's gauges of active handles, requests and resources come twice: by type, and as a
 *  `…_total` gauge. Prometheus reserves `_total` for counters (`promtool check metrics` rejects
 *  them), and the total is `sum()` of the by-type gauge, so the `_total` ones are dropped. */
const gaugesNamedLikeCounters = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** The HTTP side's metrics, with the process's own (event-loop lag, memory, CPU). */
export function createMetrics() {
  const registry = new Registry();
  // The default metrics are named `process_…` and `nodejs_…` already: the prefix is only `llmsvc_`.
  collectDefaultMetrics({ register: registry, prefix: 'llmsvc_' });
  for (const name of gaugesNamedLikeCounters) registry.removeSingleMetric(`llmsvc_${name}`);
  const registers = [registry];
  const byModel = byModelOn(registry);
  return {
    registry,
    httpRequests: new Counter({
      name: 'llmsvc_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'llmsvc_http_request_duration_seconds',
      help: 'HTTP request latency by route and status (streams: until the last byte)',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    promptTokens: new Counter({
      name: 'llmsvc_prompt_tokens_total',
      help: 'Prompt (input) tokens processed, by model',
      ...byModel,
    }),
    completionTokens: new Counter({
      name: 'llmsvc_completion_tokens_total',
      help: 'Completion (output) tokens generated, by model',
      ...byModel,
    }),
    timeToFirstToken: new Histogram({
      name: 'llmsvc_time_to_first_token_seconds',
      help: 'Time from request arrival to the first generated token, by model',
      ...byModel,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    upstreamFailures: new Counter({
      name: 'llmsvc_upstream_attempt_failures_total',
      help: 'Attempts on an upstream provider that failed before streaming, by provider and kind (http, connection, timeout, circuit_open, …) and what came next (retry or fallback)',
      labelNames: ['upstream', 'kind', 'next'] as const,
      registers,
    }),
    circuitState: new Gauge({
      name: 'llmsvc_upstream_circuit_state',
      help: 'Circuit breaker per upstream provider: 0 closed, 1 half-open, 2 open',
      labelNames: ['upstream'] as const,
      // Several HTTP workers (`serve --workers N`) each have a breaker: the box shows the worst.
      aggregator: 'max',
      registers,
    }),
    poolOutstanding: new Gauge({
      name: 'llmsvc_pool_member_outstanding_requests',
      help: 'Requests in flight on each member of an engine pool (until their stream ends)',
      labelNames: ['pool', 'member'] as const,
      registers,
    }),
    poolHealthy: new Gauge({
      name: 'llmsvc_pool_member_healthy',
      help: 'Health check of each member of an engine pool: 1 passing, 0 failing',
      labelNames: ['pool', 'member'] as const,
      // Several HTTP workers each check: healthy only when every one of them sees it healthy.
      aggregator: 'min',
      registers,
    }),
    poolRequests: new Counter({
      name: 'llmsvc_pool_member_requests_total',
      help: 'Attempts sent to each member of an engine pool',
      labelNames: ['pool', 'member'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The model runtime's metrics: loads, queues, batches, decode speed. */
export function createRuntimeMetrics() {
  const registry = new Registry();
  const registers = [registry];
  const byModel = byModelOn(registry);
  return {
    registry,
    modelsLoaded: new Gauge({
      name: 'llmsvc_models_loaded',
      help: 'Local models currently loaded in memory',
      registers,
    }),
    queueDepth: new Gauge({
      name: 'llmsvc_queue_depth',
      help: 'Requests waiting for a sequence, by model',
      ...byModel,
    }),
    queueWait: new Histogram({
      name: 'llmsvc_queue_wait_seconds',
      help: 'Time a request waited for a sequence, by model',
      ...byModel,
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    queueRejections: new Counter({
      name: 'llmsvc_queue_rejections_total',
      help: 'Requests refused because the model queue was full, by model',
      ...byModel,
    }),
    activeSequences: new Gauge({
      name: 'llmsvc_active_sequences',
      help: 'Sequences generating now, by model: the batch decoded together at each step',
      ...byModel,
    }),
    decodeTokensPerSecond: new Histogram({
      name: 'llmsvc_decode_tokens_per_second',
      help: 'Decode speed of each generation (tokens after the first, over the time after the first), by model',
      ...byModel,
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    }),
    embeddingBatchSize: new Histogram({
      name: 'llmsvc_embedding_batch_inputs',
      help: 'Inputs evaluated together per embedding group of a GGUF model, by model (1: alone)',
      ...byModel,
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128, 256],
    }),
    modelLoadSeconds: new Histogram({
      name: 'llmsvc_model_load_seconds',
      help: 'Time to load a local model, by model',
      ...byModel,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    }),
  };
}

export type RuntimeMetrics = ReturnType<typeof createRuntimeMetrics>;
