import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import {
  adminKeyFile as adminKeyFileIn,
  createAuthThrottle,
  createRateLimiter,
  KeyService,
  limitsInRedis,
  systemClock,
  type Clock,
  type FailureThrottle,
  type RateLimiter,
} from './auth/index.js';
import { ConfigError, type Config } from './config/index.js';
import { createResponseCache, type ResponseCache } from './cache/index.js';
import type { PrimaryChannel } from './cluster/channel.js';
import { createRetrieval } from './jobs/index.js';
import { createLogger } from './logger.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import type { RuntimeStats } from './providers/llama/worker/protocol.js';
import { WorkerLlamaProvider } from './providers/llama/worker/client.js';
import { createLocalProviders, localModelControl, runtimeLogTo, type LocalProviders } from './providers/localProviders.js';
import { createRouter, type Router } from './routing/index.js';
import { buildServer } from './server/index.js';
import { createBlobStore, FileContents } from './storage/index.js';
import { openStore, type Store } from './store/index.js';
import { startTracing, type Tracing } from './tracing/index.js';

export interface StartOptions {
  /** Where logs go (default stdout); tests pass a stream to read them. */
  logDestination?: DestinationStream;
  /** Path of a model served only while the models dir is empty (see ModelManagerOptions). */
  fallbackModel?: string;
  /** Time source for limits, quotas and usage days (tests move it). */
  clock?: Clock;
  /** The logger, when the caller made it already (then `logDestination` is not used). */
  logger?: Logger;
  /** The local runtimes, when the caller started them already: `llmsvc serve` starts the runtime
   *  thread before it loads the rest of the service, so that loading llama.cpp overlaps with it. */
  local?: LocalProviders;
  /** Readiness is reported only once this settles too (tests watch the warming phase). */
  runtimeReadyAfter?: Promise<void>;
  /** This service is one HTTP worker of `llmsvc serve --workers N` (see core/cluster): its rate
   *  limits live in the primary (unless in Redis), its metrics and stats are the box's, and only
   *  the `background` worker runs the once-per-box work. */
  cluster?: { channel: PrimaryChannel; background: boolean };
}

const loopbackHosts = new Set(['localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return loopbackHosts.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** A bind that failed, said so that the operator knows which setting to change. */
function listenFailure(error: unknown, config: Config): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${config.host}:${config.port}`;
  const choose = "Choose another port with --port N (or LLMSVC_PORT, or \"port\" in the config file); --port 0 picks a free one";
  if (code === 'EADDRINUSE') return new Error(`Port ${config.port} is already in use on ${config.host} (another llmsvc, or another server). ${choose}, or stop what holds it.`, { cause: error });
  if (code === 'EACCES') return new Error(`Not allowed to listen on ${where}: ports below 1024 need privileges. ${choose}.`, { cause: error });
  if (code === 'EADDRNOTAVAIL') return new Error(`Cannot listen on ${where}: ${config.host} is not an address of this machine. Choose another with --host (or LLMSVC_HOST, or "host" in the config file).`, { cause: error });
  return error;
}

/** The whole service: builds every part from the config, listens, and shuts down in reverse order. */
export class Service {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly app: FastifyInstance,
    readonly url: string,
    readonly metrics: Metrics,
    readonly store: Store,
    readonly keys: KeyService,
    /** Where a newly created admin key was written (first start without LLMSVC_ADMIN_KEY). */
    readonly adminKeyFile: string | undefined,
    private readonly provider: WorkerLlamaProvider,
    private readonly router: Router,
    private readonly cache: ResponseCache | undefined,
    private readonly limiter: RateLimiter,
    private readonly authThrottle: FailureThrottle,
    private readonly shutdown: AbortController,
    private readonly tracing: Tracing | undefined,
  ) {}

  static async start(config: Config, options: StartOptions = {}): Promise<Service> {
    if (!config.auth && !isLoopback(config.host)) {
      await options.local?.llama.dispose();
      throw new ConfigError(
        `Refusing to serve ${config.host} with auth off: anyone on the network could use it. Keep auth on (the default), or bind a loopback address such as 127.0.0.1.`,
      );
    }
    const logger = options.logger ?? createLogger(config.log_level, options.logDestination);
    const clock = options.clock ?? systemClock;
    if (config.database_url !== undefined && options.cluster && !limitsInRedis(config)) {
      throw new ConfigError('With database_url, the workers of `serve --workers N` share their limits through Redis: set redis_url (LLMSVC_REDIS_URL), or serve with one worker.');
    }
    const store = await openStore(
      { dataDir: config.data_dir, databaseUrl: config.database_url },
      {
        onLedgerError: (error, lost) => logger.error({ err: error, lost }, 'could not write the request log and usage'),
        onConnectionError: (error) => logger.warn({ err: error }, 'a PostgreSQL connection was lost; reconnecting'),
      },
    );
    const keys = new KeyService(store, clock);
    const adminKeyFile = config.auth ? await keys.ensureAdminKey(config.admin_key, adminKeyFileIn(config.data_dir)) : undefined;
    const metrics = createMetrics();
    const cluster = options.cluster;
    // The cluster's modules load only in a worker of `serve --workers N`, not on every start.
    // With --workers and no Redis, limits and failed authentications are counted in the primary.
    const countedInPrimary = cluster && !limitsInRedis(config);
    const limiter =
      countedInPrimary
        ? new (await import('./cluster/ipcRateLimiter.js')).IpcRateLimiter(cluster.channel, { flushUsage: () => void store.ledger.flush() })
        : await createRateLimiter(config, clock, logger);
    // Failed authentications are counted where the limits are: the primary, Redis or here.
    const authThrottle =
      countedInPrimary
        ? new (await import('./cluster/ipcAuthThrottle.js')).IpcAuthThrottle(cluster.channel, config.auth_failure_limit, clock)
        : await createAuthThrottle(config, clock, logger);
    const worker = cluster && (await import('./cluster/workerRole.js')).workerRole(cluster.channel, metrics.registry, cluster.background);
    const { llama: provider, onnx, local, firstEmbeddingModel } =
      options.local ?? createLocalProviders(config, runtimeLogTo(logger), options.fallbackModel, { readyAfter: options.runtimeReadyAfter });
    const cache = config.cache
      ? createResponseCache({ dataDir: config.data_dir, redisUrl: config.redis_url, ttlMs: config.cache_ttl_s * 1000, registry: metrics.registry, logger, purge: cluster?.background ?? true })
      : undefined;
    // Off by default; when on, the OpenTelemetry SDK loads here (and only then).
    const tracing = await startTracing(config.tracing, logger);
    const router = await createRouter(config, local, logger, metrics, { ...(cache && { cache }), ...(tracing && { tracing }) });
    const contents = new FileContents(store, createBlobStore(config));
    const retrieval = createRetrieval({
      store,
      contents,
      embed: (model, inputs, signal) => router.embed({ model, inputs, signal }),
      defaultEmbeddingModel: config.default_embedding_model,
      firstLocalEmbeddingModel: firstEmbeddingModel,
      log: logger,
    });
    // The runtime thread's figures are current as of the last /readyz or /metrics call.
    let lastStats: RuntimeStats | undefined;
    const shutdown = new AbortController();
    const app = buildServer({
      config,
      logger,
      store,
      metrics,
      provider: router,
      keys,
      clock,
      limiter,
      authThrottle,
      shutdownSignal: shutdown.signal,
      retrieval,
      ...(tracing && { tracing }),
      ...(worker && { worker }),
      models: localModelControl(provider, onnx),
      upstreams: () => router.upstreamStates(),
      runtimeMetrics: () => provider.metricsText(),
      readiness: {
        phase: () => provider.phase,
        details: async () => {
          // Not before the runtime thread is ready: the call would wait for it, and /readyz must
          // answer at once while the server starts.
          if (provider.phase.status === 'ready') lastStats = await provider.stats().catch(() => lastStats);
          // Every model of the models dir: GGUF files and ONNX directories alike.
          return { backend: provider.backendName ?? null, models_available: local.listModels().length, models_loaded: lastStats?.loaded ?? [] };
        },
      },
    });
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (error) {
      // The app became ready before the bind failed: its onClose hooks stop the ingestion runner,
      // which would otherwise poll the closed database.
      await app.close().catch(() => {});
      await router.dispose();
      await cache?.dispose();
      await limiter.dispose();
      await authThrottle.dispose();
      await tracing?.shutdown();
      await store.close();
      throw listenFailure(error, config);
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const service = new Service(config, logger, app, `http://${host}:${port}`, metrics, store, keys, adminKeyFile, provider, router, cache, limiter, authThrottle, shutdown, tracing);
    provider.ready().then(
      (backend) => provider.hasRuntimeThread && logger.info({ backend, threads: config.threads }, 'llama.cpp ready in the runtime thread'),
      (error: unknown) => logger.error({ err: error }, 'llama.cpp could not be loaded; local models cannot be served'),
    );
    return service;
  }

  /** What the runtime thread holds now: loaded models, their sequences and queues. */
  runtimeStats(): Promise<RuntimeStats> {
    return this.provider.stats();
  }

  /** Stops accepting requests, lets in-flight ones finish for up to `graceMs`, aborts the rest,
   *  then disposes models, the llama.cpp binding and SQLite, in that order. */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      const force = setTimeout(() => this.shutdown.abort(new Error('The server is shutting down.')), graceMs);
      try {
        await this.app.close();
      } finally {
        clearTimeout(force);
      }
      await this.router.dispose();
      await this.cache?.dispose();
      await this.limiter.dispose();
      await this.authThrottle.dispose();
      // The last spans (this request's included) go out before the process ends.
      await this.tracing?.shutdown().catch((error: unknown) => this.logger.warn({ err: error }, 'could not export the last traces'));
      await this.store.close();
      this.logger.info('stopped');
      this.logger.flush();
    })();
    return this.stopping;
  }
}
