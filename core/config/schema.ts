import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { jsonFromEnv, providerSchema, routeSchema, type PoolSettings, type ProviderSettings } from './routing.js';
import type { Secret } from './secret.js';

/** Threads for ggml: leave the event loop a core. On 2 cores ggml's spinning workers and the
 *  JS thread fight for the CPU and decode speed collapses (measured: threads=2 → ~80 tok/s,
 *  threads=1 → ~2,000 tok/s on the tiny model), so small machines get one thread. */
export function defaultThreads(cores = os.availableParallelism()): number {
  return Math.max(1, cores - 1);
}

export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_DATA_HOME) return path.join(env.XDG_DATA_HOME, 'llmsvc');
  return path.join(os.homedir(), '.local', 'share', 'llmsvc');
}

const port = z.coerce.number().int().min(0).max(65535);
/** Sequences per model: a number, or 'auto' (chosen from the cores and the free memory at load). */
const parallel = z.union([z.literal('auto'), z.coerce.number().int().positive().max(256, 'llama.cpp decodes at most 256 sequences together')]);
const positiveInt = z.coerce.number().int().positive();
/** Booleans arrive as strings from env and flags; z.coerce.boolean() would read "false" as true. */
const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => ['true', '1', 'yes'].includes(value)),
]);

/** Every setting llmsvc reads. Keys are snake_case in the config file; each has an env twin
 *  LLMSVC_<KEY in upper case> and (for serve) a flag --<key with dashes>. */
export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8080),
    data_dir: z.string().min(1).optional(),
    models_dir: z.string().min(1).optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Largest accepted request body, in bytes. */
    body_limit: positiveInt.default(4 * 1024 * 1024),
    /** Context window per sequence for local models (capped by the model's training context). */
    context_size: positiveInt.default(4096),
    /** Sequences decoded together per loaded model; further requests wait their turn. */
    parallel: parallel.default('auto'),
    /** Per-model overrides of parallel and context_size, by model id (env: a JSON object). */
    model_settings: z
      .preprocess(
        jsonFromEnv,
        z.record(z.string(), z.object({ parallel: parallel.optional(), context_size: z.number().int().positive().optional() }).strict()),
      )
      .default({}),
    /** Requests that may wait per loaded model when all its sequences are busy; one more gets a
     *  429 with Retry-After instead of an unbounded wait. */
    max_queue: positiveInt.default(64),
    threads: positiveInt.default(defaultThreads()),
    /** Unload a local model after this many seconds without use. */
    model_idle_ttl_s: positiveInt.default(600),
    max_loaded_models: positiveInt.default(2),
    /** Generate the random-weight `smoke-tiny` model when the models dir has no model. */
    default_model: flag.default(true),
    /** Store prompt text in the request log (off: only sizes and timings). */
    log_prompts: flag.default(false),
    /** Require an API key on every route but /healthz and /readyz. Turning it off is refused
     *  unless the server binds a loopback address. */
    auth: flag.default(true),
    /** The admin key's secret (env LLMSVC_ADMIN_KEY). Without it, the first start creates one in
     *  <data_dir>/admin.key. */
    admin_key: z.string().min(16, 'use at least 16 characters').optional(),
    /** A token that may read /metrics without an admin key (for a Prometheus scraper). */
    metrics_token: z.string().min(16, 'use at least 16 characters').optional(),
    /** Failed authentications per address per minute before that address gets 429s. */
    auth_failure_limit: positiveInt.default(10),
    /** Use a GPU when node-llama-cpp finds one (CUDA, Vulkan, Metal); false forces CPU. */
    gpu: z.union([z.literal('auto'), flag]).default('auto'),
    /** GGUF embeddings: inputs of one model that arrive while it embeds others are evaluated
     *  together, several sequences in one decode (false: one at a time). */
    embedding_batch: flag.default(true),
    /** Most inputs evaluated together. */
    embedding_batch_max_inputs: positiveInt.max(256, 'llama.cpp decodes at most 256 sequences together').default(8),
    /** Most tokens evaluated together; a longer input is evaluated alone. */
    embedding_batch_max_tokens: positiveInt.default(512),
    /** How long the first input of a group waits for others, in ms (0: a group is what queued
     *  while the previous one ran). */
    embedding_batch_window_ms: z.coerce.number().int().min(0).max(1000).default(0),
    /** Where `npm run build:fast-addon` put llmsvc's optional fast llama.cpp addon (absent: the
     *  checkout's .cache/fast-addon). Used when built there and matching the installed node-llama-cpp. */
    fast_addon_dir: z.string().min(1).optional(),
    /** Embedding model of a vector store created without `embedding_model` (absent: the first local model). */
    default_embedding_model: z.string().min(1).optional(),
    /** Upstream providers (OpenAI, Anthropic, OpenAI-compatible servers); env: a JSON array. */
    providers: z.preprocess(jsonFromEnv, z.array(providerSchema)).default([]),
    /** Public model ids → ordered chains of provider/model targets; env: a JSON array. */
    routes: z.preprocess(jsonFromEnv, z.array(routeSchema)).default([]),
    /** Air-gapped: refuse every non-local target. */
    offline: flag.default(false),
    /** When set, upstream base URLs must be on one of these hosts (host or host:port); env: a JSON array. */
    egress_allowlist: z.preprocess(jsonFromEnv, z.array(z.string().min(1))).optional(),
    /** PostgreSQL shared by several llmsvc nodes: keys, usage, the request log, files' metadata,
     *  vector stores, batches and jobs live there instead of <data_dir>/llmsvc.sqlite. Several nodes
     *  also need `redis_url` (exact limits) and an S3 `storage` (file contents). */
    database_url: z.string().regex(/^postgres(ql)?:\/\//, 'use a postgres:// or postgresql:// URL').optional(),
    /** Redis shared by several llmsvc nodes: the response cache (instead of <data_dir>/cache.sqlite)
     *  and, unless `rate_limits` is 'memory', the rate-limit windows, concurrency slots and quota
     *  reservations (instead of this process's memory). */
    redis_url: z.string().regex(/^rediss?:\/\//, 'use a redis:// or rediss:// URL').optional(),
    /** Where rate limits, concurrency slots and quota reservations live: 'auto' is Redis when
     *  `redis_url` is set, else this process's memory (the fastest, for a single node). */
    rate_limits: z.enum(['auto', 'memory', 'redis']).default('auto'),
    /** Prefix of every Redis key the limiter writes (several deployments may share one Redis). */
    redis_prefix: z.string().min(1).default('llmsvc:'),
    /** How long a concurrency slot or quota reservation held in Redis outlives its node: a running
     *  request refreshes it every third of this; a node that dies frees its slots after it. */
    redis_lease_ms: z.coerce.number().int().min(500).default(30_000),
    /** HTTP processes of `llmsvc serve` on one port (node's cluster): a number, or 'auto' (one
     *  per core). Several share exact rate limits through the primary process (or Redis when
     *  `redis_url` is set); local models need 1 (a model's runtime lives in one process). */
    workers: z.union([z.literal('auto'), positiveInt.max(256, 'use at most 256 workers')]).default(1),
    /** Response cache: on by default for deterministic requests (temperature 0 or a seed). */
    cache: flag.default(true),
    /** How long a cached answer is served. */
    cache_ttl_s: positiveInt.default(3600),
    /** Where file contents (uploads, batch results) live: files in <data_dir>/blobs, or an S3
     *  bucket (credentials from the AWS SDK's usual env vars or shared credentials file). */
    storage: z
      .preprocess(
        jsonFromEnv,
        z.discriminatedUnion('type', [
          z.object({ type: z.literal('data_dir') }).strict(),
          z
            .object({
              type: z.literal('s3'),
              bucket: z.string().min(1),
              prefix: z.string().default('llmsvc/'),
              endpoint: z.url().optional(),
              region: z.string().min(1).default('us-east-1'),
              force_path_style: z.boolean().default(false),
            })
            .strict(),
        ]),
      )
      .default({ type: 'data_dir' }),
    /** Batch jobs: how many sequences of one local model batch lines may hold at once; 'auto':
     *  all but one (at least one), so a live request always finds one free. Live requests are
     *  also served first from the model's queue. */
    batch_max_sequences_per_model: z.union([z.literal('auto'), positiveInt]).default('auto'),
    /** Batch jobs: most requests in one batch (OpenAI's limit is 50,000). */
    batch_max_lines: positiveInt.max(50_000).default(50_000),
    /** Batch jobs: how long a batch line a node has claimed stays its without a renewal (renewed
     *  every third of it while the line runs); a node that dies mid-line frees its lines after it
     *  (at once for a restarted server on the same host). */
    batch_line_lease_ms: z.coerce.number().int().min(500).default(30_000),
    /** OpenTelemetry tracing (off by default): one trace per request, exported over OTLP/HTTP
     *  (JSON) to `otlp_endpoint` (the collector's base URL; /v1/traces is appended), else to
     *  OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318. `sample_ratio`: the share of new
     *  traces recorded (a caller's sampled traceparent is always followed). Env: a JSON object. */
    tracing: z
      .preprocess(
        jsonFromEnv,
        z
          .object({
            enabled: flag.default(false),
            otlp_endpoint: z.url().optional(),
            service_name: z.string().min(1).default('llmsvc'),
            sample_ratio: z.number().min(0).max(1).default(1),
          })
          .strict(),
      )
      .default({ enabled: false, service_name: 'llmsvc', sample_ratio: 1 }),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
/** A provider with its API key read (from api_key_env, api_key_file or the vendor's usual env var). */
export type ResolvedProvider = Omit<ProviderSettings, 'pool'> & { api_key?: Secret; pool?: ResolvedPool };
/** A pool with each member's API key read (its own, else the pool provider's). */
export type ResolvedPool = Omit<PoolSettings, 'members'> & { members: readonly ResolvedPoolMember[] };
export interface ResolvedPoolMember {
  base_url: string;
  api_key?: Secret;
}
export type Config = Readonly<Omit<ParsedConfig, 'providers'> & { data_dir: string; models_dir: string; providers: readonly ResolvedProvider[] }>;
export const configKeys = Object.keys(configSchema.shape) as (keyof ParsedConfig)[];
