import { ApiError } from '../errors/index.js';
import type { ChunkingParams, FileRecord, PageRequest, Store, StoreTransaction, VectorStoreFileRecord, VectorStoreFileStatus, VectorStoreRecord } from '../store/index.js';
import type { SearchMode } from '../store/vectors/index.js';
import type { DocumentReader } from './documents.js';
import type { EmbedFunction } from './embedding.js';
import { toAttributeFilter } from './filters.js';
import { newRagId } from './ids.js';
import { ingestionJobKind, type IngestionPayload } from './ingestion.js';
import { listObject, vectorStoreFileObject, vectorStoreObject } from './objects.js';
import { autoChunking } from './chunking.js';
import {
  type CreateVectorStoreFileRequest,
  type CreateVectorStoreRequest,
  type SearchRequest,
  type UpdateVectorStoreRequest,
} from './requests.js';

export interface VectorStoreServiceDeps {
  store: Store;
  embed: EmbedFunction;
  documents: DocumentReader;
  /** config.default_embedding_model. */
  defaultEmbeddingModel?: string;
  /** The first local model that can embed, for stores created without a model when none is configured. */
  firstLocalEmbeddingModel: () => string | undefined;
  /** Told when ingestion work was queued (the job runner wakes up). */
  onJobQueued?: () => void;
  /** Unix ms. */
  now?: () => number;
}

export function notFound(what: string, id: string, param: string | null = null): ApiError {
  return new ApiError('LLMSVC_ERR_NOT_FOUND', `No ${what} found with id '${id}'. Check the id; list them with GET ${listRouteOf(what)}.`, param);
}

function listRouteOf(what: string): string {
  return what === 'file' ? '/v1/files' : what === 'vector store' ? '/v1/vector_stores' : '/v1/vector_stores/{id}/files';
}

/** How an OpenAI ranker value maps to a search mode (see requests.ts). */
function searchModeOf(ranker: string | undefined): SearchMode {
  return ranker === 'vector' || ranker === 'keyword' ? ranker : 'hybrid';
}

/** Vector stores, their files and search: the logic behind /v1/vector_stores. Files are indexed by
 *  durable jobs (see ingestion.ts); everything else happens in the request. */
export class VectorStoreService {
  private readonly store: Store;
  private readonly now: () => number;

  constructor(private readonly deps: VectorStoreServiceDeps) {
    this.store = deps.store;
    this.now = deps.now ?? Date.now;
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The model a new store embeds with: the request's, the configured default, or the first local one. */
  resolveEmbeddingModel(requested: string | undefined): string {
    const model = requested ?? this.deps.defaultEmbeddingModel ?? this.deps.firstLocalEmbeddingModel();
    if (model === undefined) {
      throw new ApiError(
        'LLMSVC_ERR_MISSING_PARAM',
        "No embedding model for the vector store: name one in 'embedding_model' (an llmsvc extension), set default_embedding_model in the config, or add a local model.",
        'embedding_model',
      );
    }
    return model;
  }

  async createStore(request: CreateVectorStoreRequest): Promise<ReturnType<typeof vectorStoreObject>> {
    const model = this.resolveEmbeddingModel(request.embedding_model);
    const files = await Promise.all((request.file_ids ?? []).map((id) => this.requireFile(id, 'file_ids')));
    files.forEach((file) => this.requireSupported(file, 'file_ids'));
    // One embedding tells the model's dimension, and that the model exists, before anything is written.
    const probe = await this.deps.embed(model, ['dimension probe']);
    const dimensions = probe.vectors[0]?.length ?? 0;
    if (request.dimensions !== undefined && request.dimensions !== dimensions) {
      throw new ApiError(
        'LLMSVC_ERR_INVALID_PARAM',
        `Model '${model}' makes ${dimensions}-dimension embeddings, not ${request.dimensions}. Remove 'dimensions' or set it to ${dimensions}.`,
        'dimensions',
      );
    }
    const now = this.nowSeconds();
    const record: VectorStoreRecord = {
      id: newRagId('vs', '_'),
      name: request.name ?? '',
      description: request.description ?? null,
      embeddingModel: model,
      dimensions,
      chunkingStrategy: request.chunking_strategy ?? { ...autoChunking },
      metadata: request.metadata ?? null,
      expiresAfterDays: request.expires_after?.days ?? null,
      lastActiveAt: now,
      createdAt: now,
    };
    await this.store.transaction(async (tx) => {
      await tx.vectorStores.save(record);
      await tx.vectorIndex.create(record.id, {
        dimensions,
        quantization: request.quantization ?? 'none',
        ...(request.partitioning ? { partitioning: request.partitioning } : {}),
      });
      for (const file of files) await this.attach(tx, record, file, null, record.chunkingStrategy);
    });
    if (files.length > 0) this.deps.onJobQueued?.();
    return this.storeObject(record);
  }

  async listStores(page: PageRequest) {
    const result = await this.store.vectorStores.list(page);
    return listObject({ items: await Promise.all(result.items.map((record) => this.storeObject(record))), hasMore: result.hasMore });
  }

  async getStore(id: string) {
    return this.storeObject(await this.requireStore(id));
  }

  /** Whether files of this name can be attached (by extension, as OpenAI decides). */
  supportsFile(filename: string): boolean {
    return this.deps.documents.supports(filename);
  }

  getStoreRecord(id: string): Promise<VectorStoreRecord> {
    return this.requireStore(id);
  }

  /** The store of this name (the CLI addresses stores by name). */
  findStoreByName(name: string): Promise<VectorStoreRecord | undefined> {
    return this.store.vectorStores.findByName(name);
  }

  async updateStore(id: string, request: UpdateVectorStoreRequest) {
    // Read and saved in one step: two updates of different fields that arrive together both apply.
    const updated = await this.store.vectorStores.modify(id, (record) => ({
      ...record,
      name: request.name === undefined || request.name === null ? record.name : request.name,
      metadata: request.metadata === undefined ? record.metadata : request.metadata,
      expiresAfterDays: request.expires_after === undefined ? record.expiresAfterDays : (request.expires_after?.days ?? null),
    }));
    if (!updated) throw notFound('vector store', id);
    return this.storeObject(updated);
  }

  async deleteStore(id: string) {
    await this.requireStore(id);
    await this.store.transaction(async (tx) => {
      await tx.vectorStores.delete(id); // its files go with it (ON DELETE CASCADE)
      await tx.vectorIndex.drop(id);
    });
    return { id, object: 'vector_store.deleted' as const, deleted: true };
  }

  /** Attaches a file; indexing continues in a job. Attaching a file that is already in the store
   *  returns it as it is (retrying one that failed); content the store already holds under another
   *  file is not indexed twice (see attach). */
  async attachFile(storeId: string, request: CreateVectorStoreFileRequest) {
    const record = await this.requireStore(storeId);
    const file = await this.requireFile(request.file_id, 'file_id');
    this.requireSupported(file, 'file_id');
    // The check for an existing attachment and the attach are one transaction: two attaches of the
    // same file that arrive together must not both index it.
    const { attached, queued } = await this.store.transaction(async (tx) => {
      const existing = await tx.vectorStoreFiles.find(storeId, file.id);
      if (existing && (existing.status === 'in_progress' || existing.status === 'completed')) return { attached: existing, queued: false };
      if (existing) await tx.vectorStoreFiles.delete(storeId, file.id);
      await tx.vectorStores.touch(storeId, this.nowSeconds());
      return { attached: await this.attach(tx, record, file, request.attributes ?? null, request.chunking_strategy ?? record.chunkingStrategy), queued: true };
    });
    if (queued) this.deps.onJobQueued?.();
    return vectorStoreFileObject(attached);
  }

  async listStoreFiles(storeId: string, page: PageRequest, status?: VectorStoreFileStatus) {
    await this.requireStore(storeId);
    const result = await this.store.vectorStoreFiles.list(storeId, page, status);
    return listObject({ items: result.items.map(vectorStoreFileObject), hasMore: result.hasMore });
  }

  async getStoreFile(storeId: string, fileId: string) {
    await this.requireStore(storeId);
    return vectorStoreFileObject(await this.requireStoreFile(storeId, fileId));
  }

  async updateStoreFile(storeId: string, fileId: string, attributes: VectorStoreFileRecord['attributes']) {
    await this.requireStore(storeId);
    const updated = await this.store.transaction(async (tx) => {
      const found = await tx.vectorStoreFiles.find(storeId, fileId);
      if (!found) throw notFound('file in vector store ' + storeId, fileId);
      const record = { ...found, attributes };
      await tx.vectorStoreFiles.save(record);
      // Chunks not yet in the index get the new attributes when the ingestion job commits.
      if (record.status === 'completed' && record.duplicateOf === null) await tx.vectorIndex.setAttributes(storeId, fileId, attributes ?? {});
      return record;
    });
    return vectorStoreFileObject(updated);
  }

  async detachFile(storeId: string, fileId: string) {
    await this.requireStore(storeId);
    await this.requireStoreFile(storeId, fileId);
    const queued = await this.store.transaction((tx) => this.detach(tx, storeId, fileId));
    if (queued) this.deps.onJobQueued?.();
    return { id: fileId, object: 'vector_store.file.deleted' as const, deleted: true };
  }

  /** Removes a deleted file from every store that holds it, inside the caller's transaction;
   *  returns whether a job was queued (then call jobQueued after the commit). */
  async forgetFileInTransaction(tx: StoreTransaction, fileId: string): Promise<boolean> {
    let queued = false;
    for (const storeId of await tx.vectorStoreFiles.storesHolding(fileId)) queued = (await this.detach(tx, storeId, fileId)) || queued;
    return queued;
  }

  /** Tells the job runner that ingestion work was queued. */
  jobQueued(): void {
    this.deps.onJobQueued?.();
  }

  /** Searches a store. Returns the page and what embedding the query cost (for usage accounting). */
  async search(storeId: string, request: SearchRequest, signal?: AbortSignal) {
    const queries = typeof request.query === 'string' ? [request.query] : request.query;
    const { hits, model, promptTokens } = await this.findChunks(storeId, request, signal);
    const page = {
      object: 'vector_store.search_results.page' as const,
      search_query: queries,
      data: hits.map((hit) => ({
        file_id: hit.fileId,
        filename: hit.filename,
        score: hit.score,
        attributes: hit.attributes,
        content: [{ type: 'text' as const, text: hit.text }],
      })),
      has_more: false,
      next_page: null,
    };
    return { page, model, promptTokens };
  }

  /** The chunks of a store that best match a query, with their files' names: what search pages
   *  and retrieval-augmented chat are made of. */
  async findChunks(storeId: string, request: SearchRequest, signal?: AbortSignal) {
    const record = await this.requireStore(storeId);
    const queries = typeof request.query === 'string' ? [request.query] : request.query;
    const text = queries.join('\n');
    const mode = searchModeOf(request.ranking_options?.ranker);
    const filter = request.filters && toAttributeFilter(request.filters);
    let vector: Float32Array | undefined;
    let promptTokens = 0;
    if (mode !== 'keyword') {
      const embedded = await this.deps.embed(record.embeddingModel, [text], signal);
      vector = Float32Array.from(embedded.vectors[0] ?? []);
      promptTokens = embedded.promptTokens;
      if (vector.length !== record.dimensions) {
        throw new ApiError(
          'LLMSVC_ERR_INVALID_PARAM',
          `Vector store '${storeId}' holds ${record.dimensions}-dimension embeddings, but its model '${record.embeddingModel}' now makes ${vector.length}-dimension ones (was the model file replaced?). Restore the model, or create a new store and attach the files again.`,
          'query',
        );
      }
    }
    const hits = await this.store.vectorIndex.search(storeId, {
      mode,
      vector,
      text,
      maxResults: request.max_num_results,
      scoreThreshold: request.ranking_options?.score_threshold,
      filter,
    });
    await this.store.vectorStores.touch(storeId, this.nowSeconds());
    const filenames = new Map<string, string>();
    for (const hit of hits) if (!filenames.has(hit.fileId)) filenames.set(hit.fileId, (await this.store.files.find(hit.fileId))?.filename ?? '');
    return { hits: hits.map((hit) => ({ ...hit, filename: filenames.get(hit.fileId)! })), model: record.embeddingModel, promptTokens };
  }

  /** A store file record: indexed by a job, or (same content as a file the store already indexes)
   *  served by that file's chunks, with its status. */
  private async attach(tx: StoreTransaction, record: VectorStoreRecord, file: FileRecord, attributes: VectorStoreFileRecord['attributes'], chunking: ChunkingParams): Promise<VectorStoreFileRecord> {
    const original = await tx.vectorStoreFiles.findIndexedContent(record.id, file.sha256);
    const attached: VectorStoreFileRecord = {
      vectorStoreId: record.id,
      fileId: file.id,
      status: original ? original.status : 'in_progress',
      lastError: null,
      attributes,
      chunkingStrategy: chunking,
      contentSha256: file.sha256,
      duplicateOf: original ? original.fileId : null,
      usageBytes: 0,
      createdAt: this.nowSeconds(),
    };
    await tx.vectorStoreFiles.save(attached);
    if (!original) await this.enqueueIngestion(tx, record.id, file.id);
    return attached;
  }

  /** Removes a file from a store and its chunks from the index. When other files of the store
   *  shared its content, the first of them is indexed in its place. Returns whether a job was queued. */
  private async detach(tx: StoreTransaction, storeId: string, fileId: string): Promise<boolean> {
    const files = tx.vectorStoreFiles;
    const removed = await files.find(storeId, fileId);
    if (!removed) return false;
    await files.delete(storeId, fileId);
    if (removed.duplicateOf !== null) return false;
    await tx.vectorIndex.removeFile(storeId, fileId);
    const [heir, ...others] = await files.duplicates(storeId, fileId);
    if (!heir) return false;
    await files.save({ ...heir, duplicateOf: null, status: 'in_progress', lastError: null });
    for (const other of others) await files.save({ ...other, duplicateOf: heir.fileId, status: 'in_progress', lastError: null });
    await this.enqueueIngestion(tx, storeId, heir.fileId);
    return true;
  }

  private async enqueueIngestion(tx: StoreTransaction, vectorStoreId: string, fileId: string): Promise<void> {
    const payload: IngestionPayload = { vectorStoreId, fileId };
    await tx.jobs.enqueue(newRagId('job', '_'), ingestionJobKind, payload, this.now());
  }

  private async storeObject(record: VectorStoreRecord) {
    return vectorStoreObject(record, await this.store.vectorStoreFiles.counts(record.id), this.nowSeconds());
  }

  private async requireStore(id: string): Promise<VectorStoreRecord> {
    const record = await this.store.vectorStores.find(id);
    if (!record) throw notFound('vector store', id);
    return record;
  }

  private async requireStoreFile(storeId: string, fileId: string): Promise<VectorStoreFileRecord> {
    const record = await this.store.vectorStoreFiles.find(storeId, fileId);
    if (!record) throw notFound('file in vector store ' + storeId, fileId);
    return record;
  }

  private async requireFile(id: string, param: string): Promise<FileRecord> {
    const file = await this.store.files.find(id);
    if (!file) throw notFound('file', id, param);
    return file;
  }

  /** OpenAI refuses a file type it cannot search at attach time, with a 400. */
  private requireSupported(file: FileRecord, param: string): void {
    if (this.deps.documents.supports(file.filename)) return;
    const extension = /\.[^./]+$/.exec(file.filename)?.[0] ?? '(none)';
    throw new ApiError(
      'LLMSVC_ERR_INVALID_PARAM',
      `Files with extension [${extension}] are not supported for retrieval ('${file.filename}', ${file.id}). Supported: ${this.deps.documents.extensions.join(', ')}.`,
      param,
    );
  }
}
