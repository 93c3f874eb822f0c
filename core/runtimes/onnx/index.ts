export { OnnxEmbeddingRuntime } from './runtime.js';
export type { OnnxRuntimeSettings } from './protocol.js';
export type { EmbeddingModelStats, EmbeddingOutput } from './embeddingModel.js';
export { readEmbeddingModelDirectory, type EmbeddingModelSpec, type PoolingMode } from './modelDirectory.js';
