import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AuthThrottle, MemoryRateLimiter, type Clock, type FailureThrottle, type KeyService, type RateLimiter } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { createRetrieval, type Retrieval } from '../jobs/index.js';
import type { Metrics } from '../metrics/index.js';
import type { Provider } from '../providers/index.js';
import { createBlobStore, FileContents } from '../storage/index.js';
import type { Store } from '../store/index.js';
import { BatchService, BatchWorker, createBatchMetrics } from '../batches/index.js';
import { installAuth } from './auth.js';
import { InternalCaller } from './batchLines.js';
import { installErrorHandlers } from './errorHandler.js';
import { newId } from './ids.js';
import { LiveStats } from './liveStats.js';
import { installObservability } from './observability.js';
import { installOpenApi } from './openapi.js';
import { packageVersion } from './packageVersion.js';
import { installRequestContext } from './requestContext.js';
import { installTracing } from './tracing.js';
import type { Tracing } from '../tracing/index.js';
import { batchJobKind, registerAdminRoutes, type JobCanceller, type ModelControl, type UpstreamState } from './routes/admin/index.js';
import { ConsoleSessions, isConsolePublic, registerConsole } from './routes/console/index.js';
import { registerAnthropicRoutes } from './routes/anthropic/index.js';
import { registerAnthropicBatches } from './routes/anthropic/batches.js';
import { registerHealthRoutes, type Readiness } from './routes/health.js';
import { registerOpenAiRoutes } from './routes/openai/index.js';
import { registerFiles } from './routes/openai/files.js';
import { registerOpenAiBatches } from './routes/openai/batches.js';
import { registerVectorStores } from './routes/openai/vectorStores.js';

export interface ServerDeps {
  config: Config;
  logger: Logger;
  store: Store;
  metrics: Metrics;
  provider: Provider;
  readiness: Readiness;
  /** The runtime thread's metrics, in Prometheus text, served with the HTTP side's on /metrics. */
  runtimeMetrics: () => Promise<string>;
  keys: KeyService;
  clock: Clock;
  /** Rate limits, concurrency caps and quota reservations (default: in this process's memory).
   *  The caller disposes it after the server has closed. */
  limiter?: RateLimiter;
  /** Failed authentications per address, for the API and the console's sign-in (default: in this
   *  process's memory). The caller disposes it after the server has closed. */
  authThrottle?: FailureThrottle;
  /** Aborted at forced shutdown: every in-flight generation stops. */
  shutdownSignal: AbortSignal;
  /** Files, vector stores and their ingestion jobs (default: built over `store` and `provider`).
   *  The server runs the ingestion jobs from ready to close. */
  retrieval?: Retrieval;
  /** The local runtimes, for the admin API's models and stats (absent: no local models listed). */
  models?: ModelControl;
  /** The upstream providers' circuit breakers, for the admin API's stats. */
  upstreams?: () => UpstreamState[];
  /** How to cancel a job, per job kind that can be cancelled (admin API). */
  jobCancellers?: ReadonlyMap<string, JobCanceller>;
  /** Tracing on: one trace per request (absent: no tracing hooks at all). */
  tracing?: Tracing;
  /** This server is one of several HTTP workers of the box (`llmsvc serve --workers N`). */
  worker?: WorkerRole;
}

/** What an HTTP worker of `llmsvc serve --workers N` does differently (see core/cluster). */
export interface WorkerRole {
  /** Runs the work that must run once per box (batch jobs, ingestion jobs, moving legacy file
   *  contents): true in exactly one worker. The others only queue that work (rows in SQLite). */
  background: boolean;
  /** /metrics of the whole box (every worker's registry, aggregated). */
  boxMetrics(): Promise<string>;
  /** /admin/v1/stats of the whole box: every worker's windows merged. */
  liveAcrossWorkers(own: LiveStats): Promise<LiveStats>;
  /** Hands the primary this worker's windows when it asks for them. */
  shareLive(live: LiveStats): void;
}

function defaultRetrieval(deps: ServerDeps): Retrieval {
  return createRetrieval({
    store: deps.store,
    contents: new FileContents(deps.store, createBlobStore(deps.config)),
    embed: (model, inputs, signal) => deps.provider.embed({ model, inputs, signal }),
    defaultEmbeddingModel: deps.config.default_embedding_model,
    firstLocalEmbeddingModel: () => deps.provider.listModels()[0]?.id,
    log: deps.logger,
  });
}

/** Batch jobs: the worker sends each line back into this server (see InternalCaller) from ready
 *  until close; at close it stops starting lines and waits for the running ones. */
function batchJobs(app: FastifyInstance, deps: ServerDeps, internal: InternalCaller, contents: FileContents): BatchService {
  const worker = new BatchWorker({
    store: deps.store,
    contents,
    execute: internal.executor(app),
    clock: deps.clock,
    maxLines: deps.config.batch_max_lines,
    leaseMs: deps.config.batch_line_lease_ms,
    metrics: createBatchMetrics(deps.metrics.registry),
    log: deps.logger,
  });
  // One worker per box runs batches (`serve --workers N`); the others only create them. Boxes
  // sharing one PostgreSQL each run one, and lease the lines they run (see BatchWorker).
  if (deps.worker?.background !== false) app.addHook('onReady', async () => worker.start());
  app.addHook('preClose', () => worker.stop());
  return new BatchService(deps.store, worker, deps.clock, deps.config.batch_max_lines);
}

/** A client's x-request-id is honoured when it is a plain token; anything else (log injection,
 *  megabyte headers) gets a fresh id. */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify logs two lines per request ("incoming request", "request completed"); llmsvc logs one,
 *  from observability when the connection is done with the request (with its status, duration
 *  and key id). Fastify's other lines (stream errors, serializer failures) stay. */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(): void {}
}

export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new OneLinePerRequest(),
    bodyLimit: deps.config.body_limit,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && requestIdPattern.test(given) ? given : newId('req');
    },
    // Streams can run long; the per-request abort signal, not a socket timeout, ends them.
    requestTimeout: 0,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // The API speaks JSON only: a text/plain body is a 415 that says so, not a confusing 400.
  app.removeContentTypeParser('text/plain');
  // Before any route: the OpenAPI generator records routes as they are added.
  installOpenApi(app, packageVersion());
  const context = installRequestContext(app, deps.shutdownSignal);
  // Before auth: the server span starts first and its trace id is in every log line of the request.
  if (deps.tracing) installTracing(app, context, deps.tracing);
  const ledger = deps.store.ledger;
  const live = new LiveStats();
  deps.worker?.shareLive(live);
  // API requests in flight, for the admin API (counted before auth, so a refused one ends too).
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.url.startsWith('/v1/')) live.requestStarted();
    done();
  });
  installObservability(context, { metrics: deps.metrics, ledger, logPrompts: deps.config.log_prompts, clock: deps.clock, keys: deps.keys, live });
  const internal = new InternalCaller();
  const consoleSessions = new ConsoleSessions(deps.keys, deps.clock);
  const authThrottle = deps.authThrottle ?? new AuthThrottle(deps.config.auth_failure_limit, deps.clock);
  installAuth(app, context, {
    config: deps.config,
    store: deps.store,
    ledger,
    keys: deps.keys,
    clock: deps.clock,
    limiter: deps.limiter ?? new MemoryRateLimiter(deps.clock),
    throttle: authThrottle,
    internal,
    sessions: { isPublic: isConsolePublic, authenticate: (request) => consoleSessions.authenticate(request) },
    ...(deps.tracing && { tracing: deps.tracing }),
  });
  installErrorHandlers(app);
  registerHealthRoutes(app, { readiness: deps.readiness, metrics: deps.metrics, runtimeMetrics: deps.runtimeMetrics, ...(deps.worker && { boxMetrics: deps.worker.boxMetrics }) });
  const retrieval = deps.retrieval ?? defaultRetrieval(deps);
  registerOpenAiRoutes(app, deps.provider, retrieval.vectorStores, deps.store.responses);
  registerAnthropicRoutes(app, deps.provider);
  registerFiles(app, retrieval.files);
  registerVectorStores(app, retrieval.vectorStores);
  const batches = batchJobs(app, deps, internal, retrieval.files.contents);
  registerOpenAiBatches(app, batches);
  registerAnthropicBatches(app, batches);
  if (deps.worker?.background !== false) app.addHook('onReady', async () => {
    // Contents of files uploaded before the blob store move out of SQLite before any job reads them.
    const moved = await retrieval.files.contents.moveLegacyContents();
    if (moved > 0) deps.logger.info({ files: moved, store: retrieval.files.contents.blobs.kind }, 'moved file contents from SQLite to the blob store');
    retrieval.runner.start();
  });
  app.addHook('onClose', () => retrieval.dispose());
  registerAdminRoutes(app, {
    keys: deps.keys,
    store: deps.store,
    ledger,
    clock: deps.clock,
    live,
    ...(deps.worker && { liveAcrossWorkers: deps.worker.liveAcrossWorkers }),
    models: deps.models,
    upstreams: deps.upstreams,
    // Batches are cancelled as POST /v1/batches/{id}/cancel cancels them (one way to cancel).
    jobCancellers: new Map([...(deps.jobCancellers ?? []), [batchJobKind, (id: string) => batches.cancelById(id)]]),
  });
  registerConsole(app, { config: deps.config, keys: deps.keys, clock: deps.clock, sessions: consoleSessions, throttle: authThrottle });
  return app;
}
