import type { Command } from 'commander';
import { loadConfig, type Config } from '../../../core/config/index.js';
import { asyncLogDestination, createLogger } from '../../../core/logger.js';
import { createLocalProviders, runtimeLogTo } from '../../../core/providers/localProviders.js';
import { limitsInRedis } from '../../../core/auth/rateLimiter.js';
import type { Logger } from 'pino';
import { launcherChain, watchLauncher } from '../launcherWatch.js';
import { defaultModelId, ensureDefaultModel } from './defaultModel.js';
import { clusterWorkerIndex, isClusterWorker, resolveWorkers } from './serveWorkers.js';

interface ServeFlags {
  host?: string;
  port?: string;
  dataDir?: string;
  modelsDir?: string;
  config?: string;
  logLevel?: string;
  contextSize?: string;
  parallel?: string;
  threads?: string;
  offline?: boolean;
  redisUrl?: string;
  databaseUrl?: string;
  embeddingBatch?: boolean;
  exitWithParent?: boolean;
  workers?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve the OpenAI- and Anthropic-compatible APIs from the models dir and the routes of the config, and the admin console at /admin')
    .option('--host <host>', 'address to bind (env LLMSVC_HOST)', undefined)
    .option('--port <port>', 'port to listen on; 0 picks a free one (env LLMSVC_PORT)', undefined)
    .option('--data-dir <dir>', 'where llmsvc keeps its database (env LLMSVC_DATA_DIR; default $XDG_DATA_HOME/llmsvc or ~/.local/share/llmsvc)')
    .option('--models-dir <dir>', 'folder of *.gguf models (env LLMSVC_MODELS_DIR; default <data-dir>/models)')
    .option('--config <file>', 'JSON config file (env LLMSVC_CONFIG); precedence: file < env < flags')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LLMSVC_LOG_LEVEL)')
    .option('--context-size <tokens>', 'context window per sequence (env LLMSVC_CONTEXT_SIZE)')
    .option('--parallel <n>', "sequences decoded together per model, or 'auto' (env LLMSVC_PARALLEL)")
    .option('--threads <n>', 'CPU threads for llama.cpp (env LLMSVC_THREADS; default: cores - 1)')
    .option('--offline', 'air-gapped: refuse every upstream (non-local) target (env LLMSVC_OFFLINE)')
    .option('--no-embedding-batch', 'embed the inputs of concurrent embedding requests one at a time instead of together (env LLMSVC_EMBEDDING_BATCH=false)')
    .option('--database-url <url>', 'keep keys, usage, the request log, files, vector stores and batches in PostgreSQL, shared by several nodes (env LLMSVC_DATABASE_URL)')
    .option('--redis-url <url>', 'keep the response cache (instead of <data-dir>/cache.sqlite) and the rate limits in Redis, shared by several nodes (env LLMSVC_REDIS_URL)')
    .option(
      '--workers <n|auto>',
      "HTTP processes on the one port (env LLMSVC_WORKERS; default 1). 'auto': one per core, or 1 when local models are served. " +
        'Several share exact rate limits and key changes (through the primary process, or Redis with --redis-url); they serve upstream providers only: local models need 1',
    )
    .option('--exit-with-parent', 'stop cleanly when the process that started serve exits (always on under npx and npm run)')
    .action(async (flags: ServeFlags) => {
      const config = serveConfig(flags);
      if (isClusterWorker()) return serveAsWorker(config);
      // Logs go to stderr so stdout carries only the lines meant for people and scripts, written
      // asynchronously: a slow reader of stderr must not stall requests (pino flushes at exit).
      // Made before the workers are counted: 'auto' says why it chose 1.
      const logger = createLogger(config.log_level, asyncLogDestination());
      const workers = resolveWorkers(config, logger);
      if (workers > 1) return serveAsPrimary(config, workers, logger, flags);
      await serveOneProcess(config, logger, flags);
    });
}

function serveConfig(flags: ServeFlags): Config {
  return loadConfig({
    file: flags.config,
    flags: {
      host: flags.host,
      port: flags.port,
      data_dir: flags.dataDir,
      models_dir: flags.modelsDir,
      log_level: flags.logLevel,
      context_size: flags.contextSize,
      parallel: flags.parallel,
      threads: flags.threads,
      offline: flags.offline,
      redis_url: flags.redisUrl,
      database_url: flags.databaseUrl,
      // commander sets the negated flag's default (true) itself; only an explicit "off" overrides the file and env.
      embedding_batch: flags.embeddingBatch === false ? false : undefined,
      workers: flags.workers,
    },
  });
}

/** Stops with the process that started serve, under npm or when asked (--exit-with-parent). */
function stopWithLauncher(flags: ServeFlags, logger: Logger, stop: (signal: NodeJS.Signals) => void): void {
  // npx and npm run do not pass every way of stopping them on to serve (a SIGKILLed npx leaves
  // it running, holding the port): under npm, or when asked, serve stops with its launcher.
  // npm marks the processes it starts with npm_lifecycle_event (read here, not in core/config:
  // it is npm's, not a setting).
  const launchedByNpm = process.env.npm_lifecycle_event !== undefined;
  if (launchedByNpm || flags.exitWithParent) {
    watchLauncher(launcherChain(launchedByNpm), () => {
      logger.info('the process that started serve exited; shutting down');
      stop('SIGTERM');
    });
  }
}

/** `llmsvc serve` as one process (workers 1, the default): HTTP, limits, jobs and local models. */
async function serveOneProcess(config: Config, logger: Logger, flags: ServeFlags): Promise<void> {
  const fallbackModel = await ensureDefaultModel(config);
  // The runtime thread starts first, and the rest of the service is imported after: loading
  // node-llama-cpp and the llama.cpp binding there is the longest part of start-up, and it
  // overlaps with loading the HTTP side (fastify, SQLite, routes) here.
  const local = createLocalProviders(config, runtimeLogTo(logger), fallbackModel);
  const { Service } = await import('../../../core/service.js');
  const service = await Service.start(config, { fallbackModel, logger, local });
  if (fallbackModel) {
    process.stdout.write(
      `No model in ${config.models_dir}: serving the built-in '${defaultModelId}' (random weights: it answers gibberish).\n` +
        `Add a real model by copying a .gguf file into ${config.models_dir}; its file name (without .gguf) is its model id.\n`,
    );
  }
  if (service.adminKeyFile) announceAdminKey(service.adminKeyFile);
  // Last, so a script that waits for this line has all the start-up output before it.
  process.stdout.write(`llmsvc listening on ${service.url}\n`);
  const stop = onStopSignal((signal) => {
    service.logger.info({ signal }, 'shutting down');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${(error as Error).stack}\n`);
        process.exit(1);
      },
    );
  });
  stopWithLauncher(flags, service.logger, stop);
}

/** The primary of `serve --workers N`: prepares the database once (migrations, the admin key),
 *  forks the HTTP workers and owns what they share (core/cluster/primary.ts). */
async function serveAsPrimary(config: Config, workers: number, logger: Logger, flags: ServeFlags): Promise<void> {
  const [{ openStore }, { KeyService, adminKeyFile, systemClock }, { ClusterPrimary }] = await Promise.all([
    import('../../../core/store/index.js'),
    import('../../../core/auth/index.js'),
    import('../../../core/cluster/primary.js'),
  ]);
  // Once, before the workers open the file: N workers would otherwise race to migrate it and to
  // create N different admin keys.
  const store = await openStore({ dataDir: config.data_dir, databaseUrl: config.database_url });
  let createdKeyFile: string | undefined;
  try {
    if (config.auth) createdKeyFile = await new KeyService(store, systemClock).ensureAdminKey(config.admin_key, adminKeyFile(config.data_dir));
  } finally {
    await store.close();
  }
  if (createdKeyFile) announceAdminKey(createdKeyFile);
  const primary = new ClusterPrimary({ workers, logger, authFailureLimit: config.auth_failure_limit });
  const stop = onStopSignal((signal) => {
    logger.info({ signal }, 'shutting down the HTTP workers');
    void primary.stop().then((code) => {
      logger.info({ code }, 'stopped');
      logger.flush();
      process.exit(code);
    });
  });
  stopWithLauncher(flags, logger, stop);
  let url: string;
  try {
    url = await primary.start();
  } catch (error) {
    await primary.stop();
    throw error;
  }
  process.stdout.write(`Serving with ${workers} HTTP workers on one port; rate limits shared through ${limitsInRedis(config) ? 'Redis' : 'this primary process'}.\n`);
  process.stdout.write(`llmsvc listening on ${url}\n`);
}

/** One HTTP worker of `serve --workers N`: the service without local models, its limits in the
 *  primary (or Redis), the once-per-box work only in worker 0. Prints nothing on stdout (the
 *  primary does); stops when the primary says so, or when the primary is gone. */
async function serveAsWorker(config: Config): Promise<void> {
  const index = clusterWorkerIndex();
  // Every line says which worker wrote it.
  const logger = createLogger(config.log_level, asyncLogDestination()).child({ worker: index, pid: process.pid });
  // No runtime thread: a worker serves no local model (resolveWorkers refuses a config that
  // would), and an idle thread that loads llama.cpp would cost each worker memory and start-up.
  const local = createLocalProviders(config, runtimeLogTo(logger), undefined, { runtimeThread: false });
  const [{ Service }, { PrimaryChannel }] = await Promise.all([import('../../../core/service.js'), import('../../../core/cluster/channel.js')]);
  const channel = new PrimaryChannel();
  const service = await Service.start(config, { logger, local, cluster: { channel, background: index === 0 } });
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    service.logger.info({ why }, 'HTTP worker shutting down');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Shutdown failed: ${(error as Error).stack}\n`);
        process.exit(1);
      },
    );
  };
  channel.whenStopped(() => stop('the primary stops'));
  // Ctrl-C reaches every process of the group: the primary stops the workers itself.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('disconnect', () => stop('the primary process is gone'));
}

function announceAdminKey(file: string): void {
  process.stdout.write(
    `Created the admin key in ${file} (readable only by you). Use it as the API key for admin work; ` +
      `create keys for your team with 'llmsvc keys create --name NAME'.\n`,
  );
}

/** Runs `shutdown` on the first SIGINT or SIGTERM; a second one exits at once, unclean. Returns
 *  the handler, for the launcher watch to call too. */
function onStopSignal(shutdown: (signal: NodeJS.Signals) => void): (signal: NodeJS.Signals) => void {
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`Second ${signal}: exiting without a clean shutdown.\n`);
      process.exit(1);
    }
    shutdown(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return stop;
}
