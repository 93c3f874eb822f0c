import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { configuredFallbackModel } from '../runtimes/localModels.js';
import type { RuntimeLogLine } from './llama/worker/protocol.js';
import { WorkerLlamaProvider, type WorkerLlamaProviderOptions } from './llama/worker/client.js';
import { LocalProvider } from './local.js';
import { OnnxEmbeddingProvider } from './onnx/index.js';

/** The models dir's runtimes as the config sets them up: GGUF models through llama.cpp in its
 *  runtime thread, ONNX embedding models through onnxruntime, and the `local` provider over both.
 *  Nothing loads until a model is first used. The server and every CLI command build their models
 *  here, so they resolve the same ids (the default `smoke-tiny` included). */
export function createLocalProviders(
  config: Config,
  onLog: (line: RuntimeLogLine) => void,
  fallbackModel = configuredFallbackModel(config),
  runtimeOptions: WorkerLlamaProviderOptions = {},
) {
  const llama = new WorkerLlamaProvider(
    {
      modelsDir: config.models_dir,
      fallbackModel,
      contextSize: config.context_size,
      parallel: config.parallel,
      modelSettings: config.model_settings,
      threads: config.threads,
      maxQueue: config.max_queue,
      backgroundSequences: config.batch_max_sequences_per_model,
      embeddingBatch: config.embedding_batch && {
        maxInputs: config.embedding_batch_max_inputs,
        maxTokens: config.embedding_batch_max_tokens,
        windowMs: config.embedding_batch_window_ms,
      },
      idleTtlMs: config.model_idle_ttl_s * 1000,
      maxLoadedModels: config.max_loaded_models,
      gpu: config.gpu,
      fastAddonDir: config.fast_addon_dir,
      binaryCheckFile: path.join(config.data_dir, 'runtime', 'llama-binary-check.json'),
    },
    onLog,
    runtimeOptions,
  );
  // GGUF files and ONNX model directories share the models dir; each runtime lists its own.
  const onnx = new OnnxEmbeddingProvider({ modelsDir: config.models_dir });
  return {
    llama,
    onnx,
    local: new LocalProvider([llama, onnx]),
    /** A dedicated embedding model (ONNX) when there is one, else the first GGUF model. */
    firstEmbeddingModel: () => (onnx.listModels()[0] ?? llama.listModels()[0])?.id,
  };
}

export type LocalProviders = ReturnType<typeof createLocalProviders>;

/** The runtime thread's log lines, written by the service's logger. */
export function runtimeLogTo(logger: Logger): (line: RuntimeLogLine) => void {
  return (line) => logger[line.level](line.obj, line.msg);
}

/** The local models as the admin API manages them: GGUF files through the runtime thread,
 *  ONNX model directories (loaded on first use, listed with their state). */
export function localModelControl(llama: WorkerLlamaProvider, onnx: OnnxEmbeddingProvider) {
  return {
    files: () => [
      ...llama.modelFiles().map((file) => ({ id: file.id, kind: 'gguf' as const, bytes: file.bytes, file: file.file })),
      ...onnx.listModels().map((model) => ({ id: model.id, kind: 'onnx' as const, bytes: null, file: model.id })),
    ],
    runtimeStats: () => llama.stats(),
    onnxLoaded: async () => Object.keys(await onnx.stats()),
    load: (id: string) => llama.load(id),
    unload: (id: string) => llama.unload(id),
  };
}
