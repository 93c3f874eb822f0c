import path from 'node:path';
import type { Config } from '../config/index.js';
import { ModelCatalog } from './llama/modelFiles.js';
import { listOnnxModelDirectories } from './onnx/modelDirectory.js';

/** The model served while the models dir holds no GGUF file (random weights, generated once into
 *  the data dir by `llmsvc serve` or any command that needs a model). */
export const defaultModelId = 'smoke-tiny';

/** Where the default model lives: `<data_dir>/default-models/smoke-tiny.gguf`. */
export function defaultModelFile(dataDir: string): string {
  return path.join(dataDir, 'default-models', `${defaultModelId}.gguf`);
}

/** The default model's path when the config serves it (`default_model`), whether or not it has
 *  been generated yet; the catalog offers it only once it exists and the models dir has no GGUF. */
export function configuredFallbackModel(config: Pick<Config, 'data_dir' | 'default_model'>): string | undefined {
  return config.default_model ? defaultModelFile(config.data_dir) : undefined;
}

export interface LocalModel {
  id: string;
  /** `gguf`: chat, completions and embeddings through llama.cpp; `onnx`: embeddings only. */
  format: 'gguf' | 'onnx';
  /** The .gguf file or the ONNX model directory. */
  path: string;
  bytes: number;
  /** Unix seconds. */
  created: number;
  /** True for the generated default model. */
  builtIn: boolean;
}

/** Every model the `local` provider serves for this config: the models dir's GGUF files (or the
 *  default model while there are none) and its ONNX model directories. The server lists the same
 *  (its runtimes read the same folder the same way), so CLI commands and the API agree on ids. */
export function listLocalModels(config: Pick<Config, 'models_dir' | 'data_dir' | 'default_model'>, fallbackModel = configuredFallbackModel(config)): LocalModel[] {
  const gguf = new ModelCatalog(config.models_dir, fallbackModel)
    .list()
    .map((file) => ({ id: file.id, format: 'gguf' as const, path: file.path, bytes: file.bytes, created: file.created, builtIn: file.path === fallbackModel }));
  const onnx = listOnnxModelDirectories(config.models_dir).map((dir) => ({ id: dir.id, format: 'onnx' as const, path: dir.dir, bytes: dir.bytes, created: dir.created, builtIn: false }));
  return [...gguf, ...onnx];
}
