import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../../errors/index.js';
import { modelNotFound } from '../../../runtimes/llama/modelFiles.js';
import { routeDocs } from '../../openapi.js';
import type { RuntimeSnapshot, RuntimeStatsCache } from './runtimeStatsCache.js';
import type { LocalModelFile, ModelControl } from './sources.js';
import type { AdminModel, ModelState } from './wire.js';

export type { ModelState };

/** ModelInfo of the admin API: one local model and its state in the runtime. */
export function modelInfo(file: LocalModelFile, snapshot: RuntimeSnapshot): AdminModel {
  const { runtime, onnxLoaded } = snapshot;
  let state: ModelState = 'unloaded';
  if (file.kind === 'onnx') state = onnxLoaded.includes(file.id) ? 'loaded' : 'unloaded';
  else if (runtime.loading?.includes(file.id)) state = 'loading';
  else if (runtime.models[file.id]) state = 'loaded';
  const figures = runtime.models[file.id];
  const loaded = state === 'loaded';
  return {
    object: 'model' as const,
    id: file.id,
    kind: file.kind,
    state,
    backend: loaded ? (file.kind === 'onnx' ? 'onnx' : runtime.backend) : null,
    parallel: loaded && figures ? figures.parallel : null,
    memory_bytes: loaded && figures?.memoryBytes !== undefined ? figures.memoryBytes : null,
    size_bytes: file.bytes,
    file: file.file,
  };
}

const idParams = { type: 'object', properties: { id: { type: 'string', description: 'The model id (GET /admin/v1/models)' } }, required: ['id'] };

/** GET /admin/v1/models, POST /admin/v1/models/{id}/load and …/unload. */
export function registerModelRoutes(app: FastifyInstance, control: ModelControl | undefined, runtime: RuntimeStatsCache): void {
  const files = () => control?.files() ?? [];
  const find = (id: string) => {
    const file = files().find((candidate) => candidate.id === id);
    if (!file || !control) throw modelNotFound(id);
    return { file, control };
  };

  app.get('/admin/v1/models', { config: routeDocs({ tags: ['admin'], summary: 'The local models and their state' }) }, async () => {
    const snapshot = await runtime.refresh();
    return { object: 'list', data: files().map((file) => modelInfo(file, snapshot)) };
  });

  app.post<{ Params: { id: string } }>(
    '/admin/v1/models/:id/load',
    { config: routeDocs({ tags: ['admin'], summary: 'Load a local model now (waits until it is loaded)', params: idParams }) },
    async (request) => {
      const { file, control: models } = find(request.params.id);
      if (file.kind === 'onnx') throw onnxOnDemand(file.id);
      await models.load(file.id);
      return modelInfo(file, await runtime.refresh());
    },
  );

  app.post<{ Params: { id: string } }>(
    '/admin/v1/models/:id/unload',
    { config: routeDocs({ tags: ['admin'], summary: 'Unload a local model now (requests on it fail with a retryable error)', params: idParams }) },
    async (request) => {
      const { file, control: models } = find(request.params.id);
      if (file.kind === 'onnx') throw onnxOnDemand(file.id);
      await models.unload(file.id);
      return modelInfo(file, await runtime.refresh());
    },
  );
}

function onnxOnDemand(id: string): ApiError {
  return new ApiError(
    'LLMSVC_ERR_UNSUPPORTED_BY_MODEL',
    `The model '${id}' is an ONNX embedding model: it loads on its first embedding request and cannot be loaded or unloaded by hand. Load and unload apply to GGUF models.`,
    'id',
  );
}
