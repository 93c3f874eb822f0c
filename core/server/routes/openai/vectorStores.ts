import type { FastifyInstance, FastifyRequest } from 'fastify';
import { modelAllowed } from '../../../auth/index.js';
import { ApiError } from '../../../errors/index.js';
import {
  createVectorStoreFileSchema,
  createVectorStoreSchema,
  listQuerySchema,
  listVectorStoreFilesQuerySchema,
  searchSchema,
  updateVectorStoreFileSchema,
  updateVectorStoreSchema,
  type VectorStoreService,
} from '../../../rag/index.js';
import { parseBody } from '../../validation.js';

type StoreParams = { Params: { id: string } };
type StoreFileParams = { Params: { id: string; file_id: string } };

/** A key limited to some models may only use vector stores whose embedding model it may use. */
export function requireModelAllowed(request: FastifyRequest, model: string): void {
  const key = request.apiKey;
  if (key && !modelAllowed(key.models, model)) {
    throw new ApiError(
      'LLMSVC_ERR_MODEL_NOT_ALLOWED',
      `This API key may not use model '${model}', the embedding model of this vector store (allowed: ${key.models.join(', ')}). Ask the operator to allow it.`,
      'embedding_model',
    );
  }
}

/** The Vector Stores API: stores, their files, and search. */
export function registerVectorStores(app: FastifyInstance, vectorStores: VectorStoreService): void {
  app.post('/v1/vector_stores', async (request) => {
    const body = parseBody(createVectorStoreSchema, request.body);
    const model = vectorStores.resolveEmbeddingModel(body.embedding_model);
    requireModelAllowed(request, model);
    return vectorStores.createStore({ ...body, embedding_model: model });
  });
  app.get('/v1/vector_stores', async (request) => vectorStores.listStores(parseBody(listQuerySchema, request.query)));
  app.get<StoreParams>('/v1/vector_stores/:id', async (request) => vectorStores.getStore(request.params.id));
  app.post<StoreParams>('/v1/vector_stores/:id', async (request) => vectorStores.updateStore(request.params.id, parseBody(updateVectorStoreSchema, request.body)));
  app.delete<StoreParams>('/v1/vector_stores/:id', async (request) => vectorStores.deleteStore(request.params.id));

  app.post<StoreParams>('/v1/vector_stores/:id/files', async (request) =>
    vectorStores.attachFile(request.params.id, parseBody(createVectorStoreFileSchema, request.body)),
  );
  app.get<StoreParams>('/v1/vector_stores/:id/files', async (request) => {
    const query = parseBody(listVectorStoreFilesQuerySchema, request.query);
    return vectorStores.listStoreFiles(request.params.id, query, query.filter);
  });
  app.get<StoreFileParams>('/v1/vector_stores/:id/files/:file_id', async (request) => vectorStores.getStoreFile(request.params.id, request.params.file_id));
  app.post<StoreFileParams>('/v1/vector_stores/:id/files/:file_id', async (request) => {
    const { attributes } = parseBody(updateVectorStoreFileSchema, request.body);
    return vectorStores.updateStoreFile(request.params.id, request.params.file_id, attributes);
  });
  app.delete<StoreFileParams>('/v1/vector_stores/:id/files/:file_id', async (request) => vectorStores.detachFile(request.params.id, request.params.file_id));

  app.post<StoreParams>('/v1/vector_stores/:id/search', async (request) => {
    const body = parseBody(searchSchema, request.body);
    requireModelAllowed(request, (await vectorStores.getStoreRecord(request.params.id)).embeddingModel);
    const result = await vectorStores.search(request.params.id, body, request.abortSignal);
    request.accounting.model = result.model;
    request.accounting.promptTokens = result.promptTokens;
    return result.page;
  });
}
