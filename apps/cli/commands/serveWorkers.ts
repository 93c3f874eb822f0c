import cluster from 'node:cluster';
import os from 'node:os';
import { ConfigError, type Config } from '../../../core/config/index.js';
import { listModelFiles } from '../../../core/runtimes/llama/modelFiles.js';
import { defaultModelId, listLocalModels } from '../../../core/runtimes/localModels.js';
import type { Logger } from 'pino';
import { workerIndexEnv } from '../../../core/cluster/protocol.js';


export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[workerIndexEnv] !== undefined;
}

export function clusterWorkerIndex(): number {
  return Number(process.env[workerIndexEnv]);
}

/** The local models the config serves: the models dir's, and the built-in one while it has no GGUF. */
function localModelIds(config: Config): string[] {
  const ids = listLocalModels(config).map((model) => model.id);
  if (config.default_model && listModelFiles(config.models_dir).length === 0 && !ids.includes(defaultModelId)) ids.push(defaultModelId);
  return ids;
}

/** How many HTTP processes to run. `workers` is 1 by default (one process, as always). 'auto' is
 *  one per core, unless the config serves local models: a model's runtime (its weights, its
 *  sequences, the GPU) lives in one process, and N workers would each load it, so 'auto' falls
 *  back to 1 there and says so; an explicit N > 1 with local models is a config error. */
export function resolveWorkers(config: Config, logger?: Pick<Logger, 'info'>): number {
  const local = config.workers === 1 ? [] : localModelIds(config);
  if (config.workers === 'auto') {
    if (local.length > 0) {
      logger?.info({ local_models: local.slice(0, 5) }, "workers 'auto': 1 HTTP process, because local models are served (a model's runtime lives in one process)");
      return 1;
    }
    return Math.max(1, os.availableParallelism());
  }
  if (config.workers > 1 && local.length > 0) {
    const builtIn = local.includes(defaultModelId) ? ` (${defaultModelId} is the built-in model served while ${config.models_dir} has no GGUF file; turn it off with default_model false, LLMSVC_DEFAULT_MODEL=false)` : '';
    throw new ConfigError(
      `workers is ${config.workers}, but this config serves local models (${local.slice(0, 5).join(', ')})${builtIn}. ` +
        `A local model's runtime lives in one process and each worker would load its own copy, so several workers serve upstream providers only. ` +
        `Use workers 1 for local models, or serve them from a separate llmsvc (or an engine such as llama-server) that this one routes to.`,
    );
  }
  return config.workers;
}
