export { OnnxEmbeddingRuntime } from './runtime.js';
export type { OnnxRuntimeSettings } from './protocol.js';
export type { EmbeddingModelStats, EmbeddingOutput } from './embeddingModel.js';
export { listOnnxModelDirectories, readEmbeddingModelDirectory, type EmbeddingModelSpec, type OnnxModelDirectory, type PoolingMode } from './modelDirectory.js';
