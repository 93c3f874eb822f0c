export { LlamaRuntime, type LlamaRuntimeOptions } from './llama/runtime.js';
export { ModelManager, type ModelManagerOptions } from './llama/modelManager.js';
export { LoadedModel, autoParallelCandidates } from './llama/loadedModel.js';
export { listModelFiles, ModelCatalog, modelNotFound, type ModelFile } from './llama/modelFiles.js';
export { configuredFallbackModel, defaultModelFile, defaultModelId, listLocalModels, type LocalModel } from './localModels.js';
