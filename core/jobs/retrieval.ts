import { FileService, threadedDocumentReader, VectorStoreService, type DocumentReader, type EmbedFunction } from '../rag/index.js';
import type { FileContents } from '../storage/index.js';
import type { Store } from '../store/index.js';
import type { VectorIndexReader } from '../store/vectors/index.js';
import { ingestionHandler } from './ingestionHandler.js';
import { JobRunner, type JobRunnerOptions } from './runner.js';

export interface RetrievalOptions {
  store: Store;
  /** Where file contents live (the blob store). */
  contents: FileContents;
  embed: EmbedFunction;
  /** config.default_embedding_model. */
  defaultEmbeddingModel?: string;
  firstLocalEmbeddingModel: () => string | undefined;
  documents?: DocumentReader;
  log?: JobRunnerOptions['log'];
  /** Runner tuning (tests shorten the lease and poll). */
  runner?: Pick<JobRunnerOptions, 'leaseMs' | 'heartbeatMs' | 'pollMs' | 'maxAttempts'>;
  /** Chunks per embedding call. */
  batchSize?: number;
}

export interface Retrieval {
  index: VectorIndexReader;
  vectorStores: VectorStoreService;
  files: FileService;
  /** Indexes attached files; start() it where ingestion should run (the server, `llmsvc rag ingest`). */
  runner: JobRunner;
  /** Stops the runner (the job in progress is released for the next start) and ends the document thread. */
  dispose(): Promise<void>;
}

/** The Files and Vector Stores APIs and their ingestion jobs, over one store. */
export function createRetrieval(options: RetrievalOptions): Retrieval {
  const { store, embed } = options;
  // Extraction and chunking run in a thread of their own unless the caller brings a reader.
  const threaded = options.documents ? undefined : threadedDocumentReader();
  const documents = options.documents ?? threaded!;
  let runner: JobRunner | undefined = undefined;
  const vectorStores = new VectorStoreService({
    store,
    embed,
    documents,
    defaultEmbeddingModel: options.defaultEmbeddingModel,
    firstLocalEmbeddingModel: options.firstLocalEmbeddingModel,
    onJobQueued: () => runner?.wake(),
  });
  runner = new JobRunner({
    store,
    handlers: [ingestionHandler({ store, embed, documents, readFile: (id) => options.contents.read(id), batchSize: options.batchSize })],
    log: options.log,
    ...options.runner,
  });
  const dispose = async () => {
    await runner!.stop();
    await threaded?.dispose();
  };
  return { index: store.vectorIndex, vectorStores, files: new FileService(store, vectorStores, options.contents), runner, dispose };
}
