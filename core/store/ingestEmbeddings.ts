import type { Db } from './database.js';

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface IngestEmbeddingStore {
  save(jobId: string, chunkIndex: number, embedding: Float32Array): Promise<void>;
  load(jobId: string): Promise<Map<number, Float32Array>>;
  clear(jobId: string): Promise<void>;
}

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). An upsert
 *  rather than SQLite's INSERT OR REPLACE, which PostgreSQL lacks. */
export const ingestEmbeddingSql = {
  save: `
    INSERT INTO ingest_embeddings (job_id, chunk_index, embedding) VALUES (?, ?, ?)
    ON CONFLICT (job_id, chunk_index) DO UPDATE SET embedding = excluded.embedding`,
  forJob: 'SELECT chunk_index, embedding FROM ingest_embeddings WHERE job_id = ? ORDER BY chunk_index',
  clear: 'DELETE FROM ingest_embeddings WHERE job_id = ?',
} as const;

export interface IngestEmbeddingRow {
  chunk_index: number;
  embedding: Buffer;
}

/** An embedding as the column stores it: float32, little-endian (the byte order of every platform
 *  llmsvc runs on), the Float32Array's own bytes. */
export function embeddingBytes(embedding: Float32Array): Buffer {
  return Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
}

/** load's result from the rows forJob reads. */
export function embeddingsByChunk(rows: IngestEmbeddingRow[]): Map<number, Float32Array> {
  const saved = new Map<number, Float32Array>();
  for (const row of rows) {
    // Copy: the Buffer may not be 4-byte aligned for a Float32Array view.
    const bytes = new Uint8Array(row.embedding);
    saved.set(row.chunk_index, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return saved;
}

/** Embeddings an ingestion job has made so far, kept so that a restarted job embeds only the rest.
 *  They are never searchable: the finished file reaches the vector index in one transaction. */
export class IngestEmbeddingRepository implements IngestEmbeddingStore {
  private readonly insertStatement;
  private readonly forJob;
  private readonly clearStatement;

  constructor(db: Db) {
    this.insertStatement = db.prepare<[string, number, Buffer]>(ingestEmbeddingSql.save);
    this.forJob = db.prepare<[string], IngestEmbeddingRow>(ingestEmbeddingSql.forJob);
    this.clearStatement = db.prepare<[string]>(ingestEmbeddingSql.clear);
  }

  async save(jobId: string, chunkIndex: number, embedding: Float32Array): Promise<void> {
    return this.saveSync(jobId, chunkIndex, embedding);
  }

  /** save, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  saveSync(jobId: string, chunkIndex: number, embedding: Float32Array): void {
    this.insertStatement.run(jobId, chunkIndex, embeddingBytes(embedding));
  }

  async load(jobId: string): Promise<Map<number, Float32Array>> {
    return embeddingsByChunk(this.forJob.all(jobId));
  }

  async clear(jobId: string): Promise<void> {
    return this.clearSync(jobId);
  }

  /** clear, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  clearSync(jobId: string): void {
    this.clearStatement.run(jobId);
  }
}
