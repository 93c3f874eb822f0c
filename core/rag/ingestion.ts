import type { FileError, Store, StoreTransaction, VectorStoreFileRecord } from '../store/index.js';
import type { ChunkInput } from '../store/vectors/index.js';
import { UnreadableFileError, type DocumentReader } from './documents.js';
import type { EmbedFunction } from './embedding.js';

/** The job kind that indexes one file of one vector store. */
export const ingestionJobKind = 'vector_store.file.ingest';

export interface IngestionPayload {
  vectorStoreId: string;
  fileId: string;
}

export interface IngestionDeps {
  store: Store;
  embed: EmbedFunction;
  documents: DocumentReader;
  /** A file's whole content (from the blob store), or undefined when the file is gone. */
  readFile: (fileId: string) => Promise<Buffer | undefined>;
  /** Chunks embedded per call. */
  batchSize?: number;
}

export interface IngestionRun {
  jobId: string;
  payload: IngestionPayload;
  signal: AbortSignal;
  /** Chunks embedded so far, of all; stored on the job. */
  progress(done: number, total: number): Promise<void>;
}

export type IngestionOutcome = { status: 'completed' | 'skipped' } | { status: 'failed'; error: FileError };

/** Indexes a file: extract → chunk → embed in batches → one transaction that puts every chunk in
 *  the index and marks the file completed. Each batch's embeddings are saved as it is made, so a
 *  job interrupted by a crash resumes where it stopped, and nothing is searchable before the end.
 *  Embedding errors are thrown (the job runner retries them); a file that cannot be read is
 *  recorded as failed and returned as such. */
export async function ingestFile(deps: IngestionDeps, run: IngestionRun): Promise<IngestionOutcome> {
  const { store } = deps;
  const { vectorStoreId, fileId } = run.payload;
  const target = await store.vectorStoreFiles.find(vectorStoreId, fileId);
  const vectorStore = await store.vectorStores.find(vectorStoreId);
  // Detached, replaced by a duplicate, or the store deleted while the job waited: nothing to do.
  if (!vectorStore || !target || target.status !== 'in_progress' || target.duplicateOf !== null) return finish(deps, run, { status: 'skipped' });
  const file = await store.files.find(fileId);
  const content = file && (await deps.readFile(fileId));
  if (!file || !content) return fail(deps, run, { code: 'invalid_file', message: `File ${fileId} was deleted before it was indexed.` });

  let texts: string[];
  try {
    texts = await deps.documents.chunks(content, file.filename, target.chunkingStrategy);
  } catch (error) {
    if (!(error instanceof UnreadableFileError)) throw error;
    return fail(deps, run, { code: error.code, message: error.message });
  }
  if (texts.length === 0) return fail(deps, run, { code: 'invalid_file', message: `File '${file.filename}' has no text to index.` });

  const embeddings = await store.ingestEmbeddings.load(run.jobId);
  // Saved embeddings from a run that chunked differently (another llmsvc version) cannot be reused.
  if ([...embeddings.keys()].some((index) => index >= texts.length)) {
    await store.ingestEmbeddings.clear(run.jobId);
    embeddings.clear();
  }
  await run.progress(embeddings.size, texts.length);
  const missing = texts.map((_, index) => index).filter((index) => !embeddings.has(index));
  const batchSize = deps.batchSize ?? 16;
  for (let start = 0; start < missing.length; start += batchSize) {
    run.signal.throwIfAborted();
    const batch = missing.slice(start, start + batchSize);
    const result = await deps.embed(vectorStore.embeddingModel, batch.map((index) => texts[index]!), run.signal);
    const wrong = result.vectors.find((vector) => vector.length !== vectorStore.dimensions);
    if (wrong) {
      return fail(deps, run, {
        code: 'server_error',
        message: `Model '${vectorStore.embeddingModel}' made ${wrong.length}-dimension embeddings; this store holds ${vectorStore.dimensions}-dimension ones. Restore the model, or index the file in a new store.`,
      });
    }
    const made = batch.map((chunkIndex, position) => ({ chunkIndex, embedding: Float32Array.from(result.vectors[position]!) }));
    await store.transaction(async (tx) => {
      for (const { chunkIndex, embedding } of made) await tx.ingestEmbeddings.save(run.jobId, chunkIndex, embedding);
    });
    for (const { chunkIndex, embedding } of made) embeddings.set(chunkIndex, embedding);
    // After the batch's commit (the job's progress is for display; a crash between the two only
    // shows less progress than was saved).
    await run.progress(embeddings.size, texts.length);
  }
  run.signal.throwIfAborted();

  const chunks: ChunkInput[] = texts.map((text, index) => ({ index, text, embedding: embeddings.get(index)! }));
  const usageBytes = chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk.text) + chunk.embedding.byteLength, 0);
  const committed = await store.transaction(async (tx) => {
    // Re-read: the file may have been detached, or its attributes changed, while it was embedded.
    const current = await tx.vectorStoreFiles.find(vectorStoreId, fileId);
    if (!current || current.status !== 'in_progress' || current.duplicateOf !== null) return false;
    await tx.vectorIndex.putFile(vectorStoreId, fileId, current.attributes ?? {}, chunks);
    await settle(tx, { ...current, status: 'completed', lastError: null, usageBytes });
    await tx.ingestEmbeddings.clear(run.jobId);
    return true;
  });
  return committed ? { status: 'completed' } : finish(deps, run, { status: 'skipped' });
}

/** Records that a file could not be indexed (the job failed for good), unless it is no longer in progress. */
export async function recordIngestionFailure(deps: Pick<IngestionDeps, 'store'>, jobId: string, payload: IngestionPayload, error: FileError): Promise<void> {
  const { store } = deps;
  await store.transaction(async (tx) => {
    const current = await tx.vectorStoreFiles.find(payload.vectorStoreId, payload.fileId);
    if (current && current.status === 'in_progress' && current.duplicateOf === null) await settle(tx, { ...current, status: 'failed', lastError: error });
    await tx.ingestEmbeddings.clear(jobId);
  });
}

async function fail(deps: IngestionDeps, run: IngestionRun, error: FileError): Promise<IngestionOutcome> {
  await recordIngestionFailure(deps, run.jobId, run.payload, error);
  return { status: 'failed', error };
}

async function finish(deps: IngestionDeps, run: IngestionRun, outcome: IngestionOutcome): Promise<IngestionOutcome> {
  await deps.store.ingestEmbeddings.clear(run.jobId);
  return outcome;
}

/** Saves a file's final status, and the same status for the files that share its content. */
async function settle(tx: StoreTransaction, record: VectorStoreFileRecord): Promise<void> {
  await tx.vectorStoreFiles.save(record);
  for (const duplicate of await tx.vectorStoreFiles.duplicates(record.vectorStoreId, record.fileId)) {
    await tx.vectorStoreFiles.save({ ...duplicate, status: record.status, lastError: record.lastError });
  }
}
