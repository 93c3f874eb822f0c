import type { Command } from 'commander';
import { loadConfig } from '../../../core/config/index.js';
import { asyncLogDestination, createLogger } from '../../../core/logger.js';
import { createLocalProviders, runtimeLogTo } from '../../../core/providers/localProviders.js';
import { launcherChain, watchLauncher } from '../launcherWatch.js';
import { defaultModelId, ensureDefaultModel } from './defaultModel.js';

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
  embeddingBatch?: boolean;
  exitWithParent?: boolean;
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
    .option('--redis-url <url>', 'keep the response cache (instead of <data-dir>/cache.sqlite) and the rate limits in Redis, shared by several nodes (env LLMSVC_REDIS_URL)')
    .option('--exit-with-parent', 'stop cleanly when the process that started serve exits (always on under npx and npm run)')
    .action(async (flags: ServeFlags) => {
      const config = loadConfig({
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
          // commander sets the negated flag's default (true) itself; only an explicit "off" overrides the file and env.
          embedding_batch: flags.embeddingBatch === false ? false : undefined,
        },
      });
      const fallbackModel = await ensureDefaultModel(config);
      // Logs go to stderr so stdout carries only the lines meant for people and scripts, written
      // asynchronously: a slow reader of stderr must not stall requests (pino flushes at exit).
      const logger = createLogger(config.log_level, asyncLogDestination());
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
      if (service.adminKeyFile) {
        process.stdout.write(
          `Created the admin key in ${service.adminKeyFile} (readable only by you). Use it as the API key for admin work; ` +
            `create keys for your team with 'llmsvc keys create --name NAME'.\n`,
        );
      }
      // Last, so a script that waits for this line has all the start-up output before it.
      process.stdout.write(`llmsvc listening on ${service.url}\n`);
      let signals = 0;
      const stop = (signal: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          process.stderr.write(`Second ${signal}: exiting without a clean shutdown.\n`);
          process.exit(1);
        }
        service.logger.info({ signal }, 'shutting down');
        service.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`Shutdown failed: ${(error as Error).stack}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // npx and npm run do not pass every way of stopping them on to serve (a SIGKILLed npx leaves
      // it running, holding the port): under npm, or when asked, serve stops with its launcher.
      // npm marks the processes it starts with npm_lifecycle_event (read here, not in core/config:
      // it is npm's, not a setting).
      const launchedByNpm = process.env.npm_lifecycle_event !== undefined;
      if (launchedByNpm || flags.exitWithParent) {
        watchLauncher(launcherChain(launchedByNpm), () => {
          service.logger.info('the process that started serve exited; shutting down');
          stop('SIGTERM');
        });
      }
    });
}
