// The vector index on PostgreSQL is a log: per store, its writes in order (vector_index_log), and a
// head row holding the last sequence number (vector_index_heads; see the PostgreSQL-only step in
// migrate.ts). Every node replays the log into a SQLite copy of the index (vectorIndex.ts): the
// same writes in the same order make the same copy, so every node answers a search alike.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ApiError } from '../../errors/index.js';
import { embeddingBytes } from '../ingestEmbeddings.js';
import { checkVector, validateIndexOptions } from '../vectors/SqliteVectorIndex.js';
import type { Attributes, ChunkInput, IndexOptions, VectorIndexWriter } from '../vectors/types.js';
import { atomically, execute, query, type Executor } from './sql.js';

export type LogOp = 'create' | 'put' | 'remove' | 'attributes';

export interface LogEntry {
  seq: number;
  op: LogOp;
  file_id: string | null;
  details: string | null;
  chunks: Buffer | null;
}

export interface LogHead {
  incarnation: string;
  last_seq: number;
}

/** The log's statements (better-sqlite3's parameter style; see sql.ts). */
export const vectorIndexLogSql = {
  createHead: `
    INSERT INTO vector_index_heads (store_id, incarnation, options, last_seq) VALUES (?, ?, ?, 1)
    ON CONFLICT (store_id) DO NOTHING RETURNING last_seq`,
  options: 'SELECT options FROM vector_index_heads WHERE store_id = ?',
  /** The row lock taken here is held until the writer's transaction ends: the next writer of the
   *  store waits, so the store's entries commit in seq order and a reader never sees a gap. */
  bump: 'UPDATE vector_index_heads SET last_seq = last_seq + 1 WHERE store_id = ? RETURNING last_seq, options',
  append: 'INSERT INTO vector_index_log (store_id, seq, op, file_id, details, chunks) VALUES (?, ?, ?, ?, ?, ?)',
  lastFileOp: `SELECT op FROM vector_index_log WHERE store_id = ? AND file_id = ? AND op IN ('put', 'remove') ORDER BY seq DESC LIMIT 1`,
  /** The log goes with the head (ON DELETE CASCADE). */
  drop: 'DELETE FROM vector_index_heads WHERE store_id = ?',
  head: 'SELECT incarnation, last_seq FROM vector_index_heads WHERE store_id = ?',
  /** Entries after `seq`, of this incarnation only (joined in the same statement, so a store dropped
   *  and created again meanwhile yields nothing rather than the new store's entries). */
  entries: `
    SELECT l.seq, l.op, l.file_id, l.details, l.chunks FROM vector_index_log l JOIN vector_index_heads h ON h.store_id = l.store_id
    WHERE l.store_id = ? AND h.incarnation = ? AND l.seq > ? AND l.seq <= ? ORDER BY l.seq LIMIT ?`,
} as const;

/** Options as the log keeps them: partitioning always spelled out, so that equal options compare equal. */
export function optionsJson(options: IndexOptions): string {
  return JSON.stringify({ dimensions: options.dimensions, quantization: options.quantization, partitioning: options.partitioning ?? 'none' });
}

/** The options the log keeps, as SqliteVectorIndex.options reports them (no partitioning when none). */
export function parseOptions(json: string): IndexOptions {
  const { dimensions, quantization, partitioning } = JSON.parse(json) as Required<IndexOptions>;
  return partitioning === 'none' ? { dimensions, quantization } : { dimensions, quantization, partitioning };
}

/** put's chunks as bytes: a count, then per chunk its index, its text (UTF-8, length first) and its
 *  embedding (length first, float32 little-endian): the embeddings exactly, bit for bit. */
export function encodeChunks(chunks: readonly ChunkInput[]): Buffer {
  const parts: Buffer[] = [u32(chunks.length)];
  for (const chunk of chunks) {
    const text = Buffer.from(chunk.text, 'utf8');
    parts.push(u32(chunk.index), u32(text.length), text, u32(chunk.embedding.length), embeddingBytes(chunk.embedding));
  }
  return Buffer.concat(parts);
}

export function decodeChunks(bytes: Buffer): ChunkInput[] {
  let at = 0;
  const next = () => {
    const value = bytes.readUInt32LE(at);
    at += 4;
    return value;
  };
  const chunks: ChunkInput[] = [];
  for (let count = next(); count > 0; count--) {
    const index = next();
    const textLength = next();
    const text = bytes.toString('utf8', at, at + textLength);
    at += textLength;
    const embedding = new Float32Array(next());
    // Copied: the Buffer's offset need not be 4-aligned for a Float32Array view.
    new Uint8Array(embedding.buffer).set(bytes.subarray(at, at + embedding.byteLength));
    at += embedding.byteLength;
    chunks.push({ index, text, embedding });
  }
  if (at !== bytes.length) throw new Error(`a vector index log entry has ${bytes.length - at} bytes past its chunks`);
  return chunks;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

function notFound(storeId: string): ApiError {
  return new ApiError('LLMSVC_ERR_NOT_FOUND', `No vector store index with id ${storeId}; create the vector store first.`, 'vector_store_id');
}

/** The index's writes as log entries, on `executor`: usually a client inside the caller's
 *  transaction, so that they commit or roll back with the caller's other writes. Refuses what the
 *  SQLite index would refuse when the entry is replayed (an entry every node fails to apply would
 *  block the store's reads), with the same errors. */
export class PostgresVectorIndexWriter implements VectorIndexWriter {
  constructor(private readonly executor: Executor) {}

  /** Idempotent for equal options, as SqliteVectorIndex.create. */
  async create(storeId: string, options: IndexOptions): Promise<void> {
    validateIndexOptions(options);
    const json = optionsJson(options);
    await atomically(this.executor, async (client) => {
      const created = await query(client, vectorIndexLogSql.createHead, [storeId, randomUUID(), json]);
      if (created.length === 1) {
        await execute(client, vectorIndexLogSql.append, [storeId, 1, 'create', null, json, null]);
        return;
      }
      const [existing] = await query<{ options: string }>(client, vectorIndexLogSql.options, [storeId]);
      if (existing?.options !== json) throw new Error(`vector index ${storeId} already exists with other options`);
    });
  }

  async drop(storeId: string): Promise<void> {
    await execute(this.executor, vectorIndexLogSql.drop, [storeId]);
  }

  async putFile(storeId: string, fileId: string, attributes: Attributes, chunks: ChunkInput[]): Promise<void> {
    await this.append(storeId, 'put', fileId, JSON.stringify(attributes), (options) => {
      chunks.forEach((chunk, i) => checkVector(chunk.embedding, { storeId, options }, `chunks[${i}].embedding`));
      const indexes = new Set(chunks.map((chunk) => chunk.index));
      if (indexes.size !== chunks.length || chunks.some((chunk) => !Number.isInteger(chunk.index) || chunk.index < 0)) {
        throw new Error(`the chunks of file ${fileId} need distinct, non-negative integer indexes`);
      }
      return encodeChunks(chunks);
    });
  }

  async removeFile(storeId: string, fileId: string): Promise<void> {
    await this.append(storeId, 'remove', fileId, null);
  }

  async setAttributes(storeId: string, fileId: string, attributes: Attributes): Promise<void> {
    await this.append(storeId, 'attributes', fileId, JSON.stringify(attributes), undefined, async (client) => {
      const [last] = await query<{ op: LogOp }>(client, vectorIndexLogSql.lastFileOp, [storeId, fileId]);
      if (last?.op !== 'put') throw new ApiError('LLMSVC_ERR_NOT_FOUND', `File ${fileId} is not in vector store ${storeId}; attach it first.`, 'file_id');
    });
  }

  /** Takes the store's next seq (locking its head until the transaction ends), checks the write
   *  against the store's options and, under that lock, the log; then appends the entry. */
  private async append(
    storeId: string,
    op: LogOp,
    fileId: string,
    details: string | null,
    chunksFor?: (options: IndexOptions) => Buffer,
    check?: (client: pg.PoolClient) => Promise<void>,
  ): Promise<void> {
    await atomically(this.executor, async (client) => {
      const [head] = await query<{ last_seq: number; options: string }>(client, vectorIndexLogSql.bump, [storeId]);
      if (!head) throw notFound(storeId);
      const chunks = chunksFor ? chunksFor(parseOptions(head.options)) : null;
      await check?.(client);
      await execute(client, vectorIndexLogSql.append, [storeId, head.last_seq, op, fileId, details, chunks]);
    });
  }
}
