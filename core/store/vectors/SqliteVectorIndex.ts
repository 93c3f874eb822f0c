import type Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { ApiError } from '../../errors/index.js';
import type { Db } from '../database.js';
import { attributeRows, compileFilter, type SqlFragment } from './filters.js';
import { bm25ToScore, cosineDistanceToScore, reciprocalRankFusion } from './fusion.js';
import { ftsMatchExpression } from './keywordQuery.js';
import { encodeForVec0, float32Blob, vec0Parameter } from './quantize.js';
import { createStoreTables, dropStoreTables, ensureRegistry, registryTable, storeTables, type StoreTables } from './schema.js';
import type { Attributes, ChunkInput, IndexOptions, Quantization, SearchHit, SearchQuery, VectorIndex } from './types.js';

/** sqlite-vec's largest vector and its largest k in one KNN query. */
const maxDimensions = 8192;
const maxKnn = 4096;

export interface SqliteVectorIndexOptions {
  /** A quantized first pass fetches maxResults × this many candidates, which are then rescored
   *  exactly against the float vectors. Higher: better recall, slower (sqlite-vec's top-k
   *  selection costs O(k) per row). See bench/vectors.ts for the trade-off. */
  rescoreOversampling?: Partial<Record<Exclude<Quantization, 'none'>, number>>;
  /** Depth of each ranking (vector, keyword) fused by hybrid search, at least maxResults. */
  hybridDepth?: number;
  /** vec0's chunk_size (rows per vector blob) for stores created from now on. */
  vec0ChunkSize?: number;
}

interface Store {
  internalId: number;
  storeId: string;
  options: IndexOptions;
  tables: StoreTables;
}

interface Ranked {
  chunkId: number;
  score: number;
}

/** Loads sqlite-vec into the connection unless it is there already. */
export function loadSqliteVec(db: Db): void {
  try {
    db.prepare('SELECT vec_version()').get();
  } catch {
    sqliteVec.load(db);
  }
}

/** The vector index over SQLite: per store a vec0 table (cosine distance; float32, or int8 / bit
 *  with exact rescoring), an FTS5 table for BM25, and plain tables for chunk text and file
 *  attributes. Does not own the connection.
 *
 *  Scores (all in [0, 1], higher is better):
 *  - vector: (1 + cosine similarity) / 2, always from the float vectors;
 *  - keyword: x / (1 + x) with x = −bm25();
 *  - hybrid: reciprocal rank fusion (k = 60) of the two rankings, divided by its maximum 2 / 61.
 *
 *  Filters are compiled to SQL over the attributes table and applied inside the searches (vec0's
 *  `rowid IN (subquery)` pre-filter, a condition on the FTS5 query), never to the top k afterwards,
 *  so a selective filter still yields maxResults hits when that many chunks match. */
export class SqliteVectorIndex implements VectorIndex {
  private readonly oversampling: Record<Exclude<Quantization, 'none'>, number>;
  private readonly hybridDepth: number;
  private readonly vec0ChunkSize: number | undefined;

  constructor(
    private readonly db: Db,
    options: SqliteVectorIndexOptions = {},
  ) {
    loadSqliteVec(db);
    ensureRegistry(db);
    this.oversampling = { int8: 4, bit: 8, ...options.rescoreOversampling };
    this.hybridDepth = options.hybridDepth ?? 50;
    this.vec0ChunkSize = options.vec0ChunkSize;
  }

  create(storeId: string, options: IndexOptions): void {
    validateIndexOptions(options);
    const existing = this.findStore(storeId);
    if (existing) {
      const same = existing.options.dimensions === options.dimensions && existing.options.quantization === options.quantization;
      // Idempotent, so that a retried ingestion job can call it again.
      if (same) return;
      throw new Error(`vector index ${storeId} already exists with other options`);
    }
    this.db.transaction(() => {
      const { lastInsertRowid } = this.db
        .prepare(`INSERT INTO ${registryTable} (store_id, dimensions, quantization) VALUES (?, ?, ?)`)
        .run(storeId, options.dimensions, options.quantization);
      createStoreTables(this.db, storeTables(Number(lastInsertRowid)), options, this.vec0ChunkSize);
    })();
  }

  drop(storeId: string): void {
    const store = this.findStore(storeId);
    if (!store) return;
    this.db.transaction(() => {
      dropStoreTables(this.db, store.tables);
      this.db.prepare(`DELETE FROM ${registryTable} WHERE id = ?`).run(store.internalId);
    })();
  }

  options(storeId: string): IndexOptions | undefined {
    return this.findStore(storeId)?.options;
  }

  putFile(storeId: string, fileId: string, attributes: Attributes, chunks: ChunkInput[]): void {
    const store = this.requireStore(storeId);
    chunks.forEach((chunk, i) => checkVector(chunk.embedding, store, `chunks[${i}].embedding`));
    const { tables, options } = store;
    const quantized = options.quantization !== 'none';
    const insertChunk = this.db.prepare(`INSERT INTO ${tables.chunks} (file, chunk_index, text, embedding) VALUES (?, ?, ?, ?)`);
    const insertVector = this.db.prepare(`INSERT INTO ${tables.vectors} (rowid, embedding) VALUES (?, ${vec0Parameter(options.quantization)})`);
    const insertKeywords = this.db.prepare(`INSERT INTO ${tables.keywords} (rowid, text) VALUES (?, ?)`);
    this.db.transaction(() => {
      this.deleteFile(tables, fileId);
      const file = this.insertFile(tables, fileId, attributes);
      for (const chunk of chunks) {
        const { lastInsertRowid } = insertChunk.run(file, chunk.index, chunk.text, quantized ? float32Blob(chunk.embedding) : null);
        // vec0 accepts only integer row ids, which better-sqlite3 binds as such only from a BigInt.
        insertVector.run(BigInt(lastInsertRowid), encodeForVec0(chunk.embedding, options.quantization));
        insertKeywords.run(lastInsertRowid, chunk.text);
      }
    })();
  }

  removeFile(storeId: string, fileId: string): void {
    const { tables } = this.requireStore(storeId);
    this.db.transaction(() => this.deleteFile(tables, fileId))();
  }

  setAttributes(storeId: string, fileId: string, attributes: Attributes): void {
    const { tables } = this.requireStore(storeId);
    this.db.transaction(() => {
      const file = this.db.prepare(`SELECT id FROM ${tables.files} WHERE file_id = ?`).pluck().get(fileId) as number | undefined;
      if (file === undefined) throw new ApiError('LLMSVC_ERR_NOT_FOUND', `File ${fileId} is not in vector store ${storeId}; attach it first.`, 'file_id');
      this.db.prepare(`UPDATE ${tables.files} SET attributes = ? WHERE id = ?`).run(JSON.stringify(attributes), file);
      this.db.prepare(`DELETE FROM ${tables.attributes} WHERE file = ?`).run(file);
      this.insertAttributes(tables, file, attributes);
    })();
  }

  chunkCount(storeId: string): number {
    const { tables } = this.requireStore(storeId);
    return this.db.prepare(`SELECT count(*) FROM ${tables.chunks}`).pluck().get() as number;
  }

  search(storeId: string, query: SearchQuery): SearchHit[] {
    const store = this.requireStore(storeId);
    if (!Number.isInteger(query.maxResults) || query.maxResults < 1) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `max_num_results must be a positive integer, not ${query.maxResults}.`, 'max_num_results');
    }
    const maxResults = Math.min(query.maxResults, maxKnn);
    const filter = query.filter ? compileFilter(query.filter, store.tables.attributes, 'c.file') : undefined;
    const needsVector = query.mode !== 'keyword';
    const needsText = query.mode !== 'vector';
    if (needsVector && !query.vector) throw new Error(`a ${query.mode} search needs a query vector`);
    if (needsText && query.text === undefined) throw new Error(`a ${query.mode} search needs a query text`);
    if (query.vector) checkVector(query.vector, store, 'query');

    let ranked: Ranked[];
    if (query.mode === 'vector') {
      ranked = this.vectorRanking(store, query.vector!, maxResults, filter);
    } else if (query.mode === 'keyword') {
      ranked = this.keywordRanking(store, query.text!, maxResults, filter);
    } else {
      const depth = Math.min(maxKnn, Math.max(maxResults, this.hybridDepth));
      const byVector = this.vectorRanking(store, query.vector!, depth, filter);
      const byKeyword = this.keywordRanking(store, query.text!, depth, filter);
      ranked = reciprocalRankFusion([byVector.map((r) => r.chunkId), byKeyword.map((r) => r.chunkId)])
        .slice(0, maxResults)
        .map(({ id, score }) => ({ chunkId: id, score }));
    }
    const threshold = query.scoreThreshold ?? 0;
    return this.loadHits(store, ranked.filter((r) => r.score >= threshold));
  }

  // -------------------------------------------------------------------------------------------

  private findStore(storeId: string): Store | undefined {
    const row = this.db.prepare(`SELECT id, dimensions, quantization FROM ${registryTable} WHERE store_id = ?`).get(storeId) as
      | { id: number; dimensions: number; quantization: Quantization }
      | undefined;
    if (!row) return undefined;
    return { internalId: row.id, storeId, options: { dimensions: row.dimensions, quantization: row.quantization }, tables: storeTables(row.id) };
  }

  private requireStore(storeId: string): Store {
    const store = this.findStore(storeId);
    if (!store) throw new ApiError('LLMSVC_ERR_NOT_FOUND', `No vector store index with id ${storeId}; create the vector store first.`, 'vector_store_id');
    return store;
  }

  private insertFile(tables: StoreTables, fileId: string, attributes: Attributes): number {
    const { lastInsertRowid } = this.db.prepare(`INSERT INTO ${tables.files} (file_id, attributes) VALUES (?, ?)`).run(fileId, JSON.stringify(attributes));
    const file = Number(lastInsertRowid);
    this.insertAttributes(tables, file, attributes);
    return file;
  }

  private insertAttributes(tables: StoreTables, file: number, attributes: Attributes): void {
    const insert = this.db.prepare(`INSERT INTO ${tables.attributes} (file, key, kind, value) VALUES (?, ?, ?, ?)`);
    for (const row of attributeRows(attributes)) insert.run(file, row.key, row.kind, row.value);
  }

  /** Deletes a file with its chunks; the caller holds the transaction. */
  private deleteFile(tables: StoreTables, fileId: string): void {
    const file = this.db.prepare(`SELECT id FROM ${tables.files} WHERE file_id = ?`).pluck().get(fileId) as number | undefined;
    if (file === undefined) return;
    const chunkIds = this.db.prepare(`SELECT id FROM ${tables.chunks} WHERE file = ?`).pluck().all(file) as number[];
    // One point delete per row: a `rowid IN (…)` delete makes vec0 scan every vector.
    const deleteVector = this.db.prepare(`DELETE FROM ${tables.vectors} WHERE rowid = ?`);
    const deleteKeywords = this.db.prepare(`DELETE FROM ${tables.keywords} WHERE rowid = ?`);
    for (const id of chunkIds) {
      deleteVector.run(BigInt(id));
      deleteKeywords.run(id);
    }
    // Chunks and attributes go with the file (ON DELETE CASCADE); deleted explicitly as well in
    // case the connection runs with foreign keys off.
    this.db.prepare(`DELETE FROM ${tables.chunks} WHERE file = ?`).run(file);
    this.db.prepare(`DELETE FROM ${tables.attributes} WHERE file = ?`).run(file);
    this.db.prepare(`DELETE FROM ${tables.files} WHERE id = ?`).run(file);
  }

  /** Nearest chunks by cosine similarity, best first. Quantized stores: a first pass over the
   *  quantized vectors for limit × oversampling candidates, rescored with the float vectors. */
  private vectorRanking(store: Store, vector: Float32Array, limit: number, filter: SqlFragment | undefined): Ranked[] {
    const { tables, options } = store;
    const quantized = options.quantization !== 'none';
    const firstPassK = quantized ? Math.min(maxKnn, limit * this.oversampling[options.quantization as 'int8' | 'bit']) : limit;
    const preFilter = filter ? `AND rowid IN (SELECT c.id FROM ${tables.chunks} c WHERE ${filter.sql})` : '';
    const knn = this.db.prepare(
      `SELECT rowid AS id, distance FROM ${tables.vectors}
       WHERE embedding MATCH ${vec0Parameter(options.quantization)} AND k = ? ${preFilter}
       ORDER BY distance`,
    ) as Database.Statement<unknown[], { id: number; distance: number }>;
    const candidates = knn.all(encodeForVec0(vector, options.quantization), firstPassK, ...(filter?.params ?? []));
    if (!quantized) return candidates.map((c) => ({ chunkId: c.id, score: cosineDistanceToScore(c.distance) }));

    const rescore = this.db.prepare(
      `SELECT id, vec_distance_cosine(embedding, ?) AS distance FROM ${tables.chunks} WHERE id IN (SELECT value FROM json_each(?))`,
    ) as Database.Statement<unknown[], { id: number; distance: number }>;
    return rescore
      .all(float32Blob(vector), JSON.stringify(candidates.map((c) => c.id)))
      .sort((a, b) => a.distance - b.distance)
      .slice(0, limit)
      .map((c) => ({ chunkId: c.id, score: cosineDistanceToScore(c.distance) }));
  }

  /** Chunks by BM25 over their text, best first. */
  private keywordRanking(store: Store, text: string, limit: number, filter: SqlFragment | undefined): Ranked[] {
    const match = ftsMatchExpression(text);
    if (!match) return [];
    const { tables } = store;
    const filterSql = filter ? `AND rowid IN (SELECT c.id FROM ${tables.chunks} c WHERE ${filter.sql})` : '';
    const rows = this.db
      .prepare(
        `SELECT rowid AS id, bm25(${tables.keywords}) AS rank FROM ${tables.keywords}
         WHERE ${tables.keywords} MATCH ? ${filterSql} ORDER BY rank LIMIT ?`,
      )
      .all(match, ...(filter?.params ?? []), limit) as { id: number; rank: number }[];
    return rows.map((row) => ({ chunkId: row.id, score: bm25ToScore(row.rank) }));
  }

  private loadHits(store: Store, ranked: Ranked[]): SearchHit[] {
    if (ranked.length === 0) return [];
    const { tables } = store;
    const rows = this.db
      .prepare(
        `SELECT c.id, c.chunk_index, c.text, f.file_id, f.attributes FROM ${tables.chunks} c JOIN ${tables.files} f ON f.id = c.file
         WHERE c.id IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(ranked.map((r) => r.chunkId))) as { id: number; chunk_index: number; text: string; file_id: string; attributes: string }[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ranked.flatMap(({ chunkId, score }) => {
      const row = byId.get(chunkId);
      if (!row) return [];
      return [{ fileId: row.file_id, chunkIndex: row.chunk_index, text: row.text, score, attributes: JSON.parse(row.attributes) as Attributes }];
    });
  }
}

export function validateIndexOptions(options: IndexOptions): void {
  const { dimensions, quantization } = options;
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > maxDimensions) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Embedding dimensions must be an integer from 1 to ${maxDimensions}, not ${dimensions}.`, 'dimensions');
  }
  if (!['none', 'int8', 'bit'].includes(quantization)) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Quantization must be none, int8 or bit, not ${String(quantization)}.`, 'quantization');
  }
  if (quantization === 'bit' && dimensions % 8 !== 0) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `bit quantization needs dimensions divisible by 8; ${dimensions} is not. Use int8 or none.`, 'quantization');
  }
}

/** The right length, finite, not all zeros (cosine distance to a zero vector is undefined, and
 *  sqlite-vec would rank it first). */
function checkVector(vector: Float32Array, store: Store, what: string): void {
  if (vector.length !== store.options.dimensions) {
    throw new ApiError(
      'LLMSVC_ERR_INVALID_PARAM',
      `The ${what} has ${vector.length} dimensions but vector store ${store.storeId} holds ${store.options.dimensions}-dimensional embeddings; embed with the model the store was created with.`,
      what,
    );
  }
  let normSquared = 0;
  for (const value of vector) normSquared += value * value;
  if (!Number.isFinite(normSquared) || normSquared === 0) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `The ${what} is all zeros or holds a non-finite number; cosine similarity needs a finite, non-zero vector.`, what);
  }
}
