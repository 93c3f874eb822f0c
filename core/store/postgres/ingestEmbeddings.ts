import { embeddingBytes, embeddingsByChunk, ingestEmbeddingSql, type IngestEmbeddingRow, type IngestEmbeddingStore } from '../ingestEmbeddings.js';
import { execute, query, type Executor } from './sql.js';

/** ingest_embeddings on PostgreSQL: the same statements and bytes as SQLite's repository. */
export class PostgresIngestEmbeddingRepository implements IngestEmbeddingStore {
  constructor(private readonly executor: Executor) {}

  async save(jobId: string, chunkIndex: number, embedding: Float32Array): Promise<void> {
    await execute(this.executor, ingestEmbeddingSql.save, [jobId, chunkIndex, embeddingBytes(embedding)]);
  }

  async load(jobId: string): Promise<Map<number, Float32Array>> {
    return embeddingsByChunk(await query<IngestEmbeddingRow>(this.executor, ingestEmbeddingSql.forJob, [jobId]));
  }

  async clear(jobId: string): Promise<void> {
    await execute(this.executor, ingestEmbeddingSql.clear, [jobId]);
  }
}
