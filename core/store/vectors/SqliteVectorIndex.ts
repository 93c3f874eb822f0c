import type Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { ApiError } from '../../errors/index.js';
import type { Db } from '../database.js';
import { attributeRows, compileFilter, type SqlFragment } from './filters.js';
import { bm25ToScore, cosineDistanceToScore, reciprocalRankFusion } from './fusion.js';
import { ftsMatchExpression } from './keywordQuery.js';
import { IvfRouter, partitionsFor, seededSample, trainIvf, trainingSampleSize, type IvfCentroids } from './ivf.js';
import { encodeForVec0, float32Blob, vec0Parameter } from './quantize.js';
import { createStoreTables, dropStoreTables, ensureRegistry, registryTable, storeTables, type StoreTables } from './schema.js';
import type { AttributeFilter, Attributes, ChunkInput, IndexOptions, Partitioning, Quantization, SearchHit, SearchQuery, VectorIndex } from './types.js';

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
  /** Partitioned ('ivf') stores; see IvfSettings. */
  ivf?: Partial<IvfSettings>;
}

/** How partitioned stores are trained and searched. The defaults were tuned with bench/vectors.ts
 *  on 100k clustered 384-d vectors (recall@10 ≥ 0.95 vs exact); see bench/RESULTS.md. */
export interface IvfSettings {
  /** A store is first partitioned when it holds this many chunks; below it a quantized search
   *  reads every code, which is fast at that size. Default 4096. */
  minTrainingRows: number;
  /** Re-partitioned (new centroids, every chunk re-assigned) when it has grown this many times
   *  over its size at the last training. Default 4. Shrinking never re-partitions. */
  growthFactor: number;
  /** Partitions read per query. Default 8 (of ~4·√N). */
  nprobe: number;
  /** Coarse cells (of ~√nlist) whose partitions are considered when routing a query. Default 16:
   *  at 100k clustered vectors, 8 lost ~0.03 recall@10 and all 36 gained < 0.005 over 16. */
  coarseProbe: number;
  /** Train automatically after a putFile crosses a threshold (the putFile itself commits first; the
   *  training is a transaction of its own and blocks this thread for seconds at 100k chunks).
   *  false: only `repartition()` trains. Default true. */
  autoTrain: boolean;
}

const defaultIvf: IvfSettings = { minTrainingRows: 4096, growthFactor: 4, nprobe: 8, coarseProbe: 16, autoTrain: true };
/** Coarse cells considered when assigning a chunk to a partition (3 cost ~0.02 recall@10 at 100k). */
const assignCoarseProbe = 8;

interface Store {
  internalId: number;
  storeId: string;
  options: IndexOptions;
  tables: StoreTables;
}

interface IvfState {
  rowCount: number;
  trainedRows: number;
  generation: number;
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
  private readonly ivf: IvfSettings;
  /** Routers of partitioned stores, by internal id, valid while the generation matches the store's. */
  private readonly routers = new Map<number, { generation: number; router: IvfRouter }>();

  constructor(
    private readonly db: Db,
    options: SqliteVectorIndexOptions = {},
  ) {
    loadSqliteVec(db);
    ensureRegistry(db);
    this.oversampling = { int8: 4, bit: 8, ...options.rescoreOversampling };
    this.hybridDepth = options.hybridDepth ?? 50;
    this.vec0ChunkSize = options.vec0ChunkSize;
    this.ivf = { ...defaultIvf, ...options.ivf };
  }

  create(storeId: string, options: IndexOptions): void {
    validateIndexOptions(options);
    const existing = this.findStore(storeId);
    if (existing) {
      const same =
        existing.options.dimensions === options.dimensions &&
        existing.options.quantization === options.quantization &&
        (existing.options.partitioning ?? 'none') === (options.partitioning ?? 'none');
      // Idempotent, so that a retried ingestion job can call it again.
      if (same) return;
      throw new Error(`vector index ${storeId} already exists with other options`);
    }
    this.db.transaction(() => {
      const { lastInsertRowid } = this.db
        .prepare(`INSERT INTO ${registryTable} (store_id, dimensions, quantization, partitioning) VALUES (?, ?, ?, ?)`)
        .run(storeId, options.dimensions, options.quantization, options.partitioning ?? 'none');
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
    this.routers.delete(store.internalId);
  }

  options(storeId: string): IndexOptions | undefined {
    return this.findStore(storeId)?.options;
  }

  putFile(storeId: string, fileId: string, attributes: Attributes, chunks: ChunkInput[]): void {
    const store = this.requireStore(storeId);
    chunks.forEach((chunk, i) => checkVector(chunk.embedding, store, `chunks[${i}].embedding`));
    const { tables, options } = store;
    const quantized = options.quantization !== 'none';
    const partitioned = isPartitioned(store);
    const insertChunk = this.db.prepare(`INSERT INTO ${tables.chunks} (file, chunk_index, text, embedding) VALUES (?, ?, ?, ?)`);
    const insertVector = partitioned
      ? this.db.prepare(`INSERT INTO ${tables.codes} (chunk, partition, code) VALUES (?, ?, ?)`)
      : this.db.prepare(`INSERT INTO ${tables.vectors} (rowid, embedding) VALUES (?, ${vec0Parameter(options.quantization)})`);
    const insertKeywords = this.db.prepare(`INSERT INTO ${tables.keywords} (rowid, text) VALUES (?, ?)`);
    let trainAfter = false;
    this.db.transaction(() => {
      const removed = this.deleteFile(store, fileId);
      const file = this.insertFile(tables, fileId, attributes);
      // Read inside the transaction, so that a chunk is routed with the centroids it is stored beside.
      const router = partitioned ? this.router(store) : undefined;
      for (const chunk of chunks) {
        const { lastInsertRowid } = insertChunk.run(file, chunk.index, chunk.text, quantized ? float32Blob(chunk.embedding) : null);
        if (partitioned) {
          insertVector.run(lastInsertRowid, router ? router.assign(chunk.embedding, assignCoarseProbe) : 0, encodeForVec0(chunk.embedding, options.quantization));
        } else {
          // vec0 accepts only integer row ids, which better-sqlite3 binds as such only from a BigInt.
          insertVector.run(BigInt(lastInsertRowid), encodeForVec0(chunk.embedding, options.quantization));
        }
        insertKeywords.run(lastInsertRowid, chunk.text);
      }
      if (partitioned) trainAfter = this.addRows(tables, chunks.length - removed);
    })();
    if (trainAfter && this.ivf.autoTrain) this.repartition(storeId);
  }

  /** Partitions a partitioned store now (centroids trained by k-means on a seeded sample, every
   *  chunk re-assigned), in one transaction: a search sees the old partitioning or the new one.
   *  Called by putFile when the store crosses a size threshold (IvfSettings); callable directly, e.g.
   *  after a bulk ingest. A no-op for other stores and for an empty one. */
  repartition(storeId: string): void {
    const store = this.requireStore(storeId);
    if (!isPartitioned(store)) return;
    const { tables, options } = store;
    const dimensions = options.dimensions;
    // Train outside the write transaction (the slow part: seconds at 100k chunks), on a snapshot.
    const trained = this.db.transaction(() => {
      const ids = this.db.prepare(`SELECT chunk FROM ${tables.codes} ORDER BY chunk`).pluck().all() as number[];
      if (ids.length === 0) return undefined;
      const nlist = partitionsFor(ids.length);
      const sampleIds = seededSample(ids, trainingSampleSize(ids.length, nlist), 0x1f1f + ids.length);
      const embedding = this.db.prepare(`SELECT embedding FROM ${tables.chunks} WHERE id = ?`).pluck();
      const sample = sampleIds.map((id) => float32FromBlob(embedding.get(id) as Buffer, dimensions));
      const centroids = trainIvf(sample, dimensions, { nlist, seed: ids.length });
      const router = new IvfRouter(centroids);
      const assigned = new Map<number, number>();
      for (const row of this.db.prepare(`SELECT id, embedding FROM ${tables.chunks}`).iterate() as IterableIterator<{ id: number; embedding: Buffer }>) {
        assigned.set(row.id, router.assign(float32FromBlob(row.embedding, dimensions), assignCoarseProbe));
      }
      return { centroids, router, assigned };
    }).deferred();
    if (!trained) return;
    const { centroids, router, assigned } = trained;

    const generation = this.db.transaction(() => {
      this.db.prepare(`DELETE FROM ${tables.centroids}`).run();
      const insertCentroid = this.db.prepare(`INSERT INTO ${tables.centroids} (id, parent, centroid) VALUES (?, ?, ?)`);
      const coarseCount = centroids.coarse.length / dimensions;
      for (let c = 0; c < coarseCount; c++) insertCentroid.run(-(c + 1), null, float32Blob(centroids.coarse.subarray(c * dimensions, (c + 1) * dimensions)));
      for (let f = 0; f < centroids.parent.length; f++) {
        insertCentroid.run(f + 1, centroids.parent[f]!, float32Blob(centroids.fine.subarray(f * dimensions, (f + 1) * dimensions)));
      }
      // Chunks written since the snapshot (another connection) are routed here.
      const embedding = this.db.prepare(`SELECT embedding FROM ${tables.chunks} WHERE id = ?`).pluck();
      const move = this.db.prepare(`UPDATE ${tables.codes} SET partition = ? WHERE chunk = ?`);
      const rows = this.db.prepare(`SELECT chunk, partition FROM ${tables.codes}`).all() as { chunk: number; partition: number }[];
      for (const { chunk, partition } of rows) {
        const target = assigned.get(chunk) ?? router.assign(float32FromBlob(embedding.get(chunk) as Buffer, dimensions), assignCoarseProbe);
        if (target !== partition) move.run(target, chunk);
      }
      this.db.prepare(`UPDATE ${tables.ivf} SET row_count = ?, trained_rows = ?, generation = generation + 1 WHERE id = 1`).run(rows.length, rows.length);
      return this.ivfState(tables).generation;
    }).immediate();
    this.routers.set(store.internalId, { generation, router });
  }

  /** The partitioning of a partitioned store, for tests and diagnostics: partitions and rows. */
  partitionStats(storeId: string): { partitions: number; rows: number; trainedRows: number; generation: number } | undefined {
    const store = this.requireStore(storeId);
    if (!isPartitioned(store)) return undefined;
    const state = this.ivfState(store.tables);
    return { partitions: this.router(store)?.partitionCount ?? 0, rows: state.rowCount, trainedRows: state.trainedRows, generation: state.generation };
  }

  removeFile(storeId: string, fileId: string): void {
    const store = this.requireStore(storeId);
    this.db.transaction(() => {
      const removed = this.deleteFile(store, fileId);
      if (isPartitioned(store) && removed > 0) this.addRows(store.tables, -removed);
    })();
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
      ranked = this.vectorRanking(store, query.vector!, maxResults, filter, query.filter);
    } else if (query.mode === 'keyword') {
      ranked = this.keywordRanking(store, query.text!, maxResults, filter);
    } else {
      const depth = Math.min(maxKnn, Math.max(maxResults, this.hybridDepth));
      const byVector = this.vectorRanking(store, query.vector!, depth, filter, query.filter);
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
    const row = this.db.prepare(`SELECT id, dimensions, quantization, partitioning FROM ${registryTable} WHERE store_id = ?`).get(storeId) as
      | { id: number; dimensions: number; quantization: Quantization; partitioning: Partitioning }
      | undefined;
    if (!row) return undefined;
    const options: IndexOptions = { dimensions: row.dimensions, quantization: row.quantization };
    if (row.partitioning !== 'none') options.partitioning = row.partitioning;
    return { internalId: row.id, storeId, options, tables: storeTables(row.id) };
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

  /** Deletes a file with its chunks; the caller holds the transaction. Returns how many chunks went. */
  private deleteFile(store: Store, fileId: string): number {
    const { tables } = store;
    const file = this.db.prepare(`SELECT id FROM ${tables.files} WHERE file_id = ?`).pluck().get(fileId) as number | undefined;
    if (file === undefined) return 0;
    const chunkIds = this.db.prepare(`SELECT id FROM ${tables.chunks} WHERE file = ?`).pluck().all(file) as number[];
    // One point delete per row: a `rowid IN (…)` delete makes vec0 scan every vector.
    const partitioned = isPartitioned(store);
    const deleteVector = partitioned
      ? this.db.prepare(`DELETE FROM ${tables.codes} WHERE chunk = ?`)
      : this.db.prepare(`DELETE FROM ${tables.vectors} WHERE rowid = ?`);
    const deleteKeywords = this.db.prepare(`DELETE FROM ${tables.keywords} WHERE rowid = ?`);
    for (const id of chunkIds) {
      deleteVector.run(partitioned ? id : BigInt(id));
      deleteKeywords.run(id);
    }
    // Chunks and attributes go with the file (ON DELETE CASCADE); deleted explicitly as well in
    // case the connection runs with foreign keys off.
    this.db.prepare(`DELETE FROM ${tables.chunks} WHERE file = ?`).run(file);
    this.db.prepare(`DELETE FROM ${tables.attributes} WHERE file = ?`).run(file);
    this.db.prepare(`DELETE FROM ${tables.files} WHERE id = ?`).run(file);
    return chunkIds.length;
  }

  private ivfState(tables: StoreTables): IvfState {
    return this.db.prepare(`SELECT row_count AS rowCount, trained_rows AS trainedRows, generation FROM ${tables.ivf} WHERE id = 1`).get() as IvfState;
  }

  /** Counts rows in or out (the caller holds the transaction); true when the store should now be
   *  (re-)partitioned. */
  private addRows(tables: StoreTables, delta: number): boolean {
    if (delta !== 0) this.db.prepare(`UPDATE ${tables.ivf} SET row_count = max(0, row_count + ?) WHERE id = 1`).run(delta);
    const { rowCount, trainedRows } = this.ivfState(tables);
    if (trainedRows === 0) return rowCount >= this.ivf.minTrainingRows;
    return rowCount >= Math.max(this.ivf.minTrainingRows, trainedRows * this.ivf.growthFactor);
  }

  /** The store's router, undefined while it is not partitioned yet; cached per generation. */
  private router(store: Store): IvfRouter | undefined {
    const { generation } = this.ivfState(store.tables);
    if (generation === 0) return undefined;
    const cached = this.routers.get(store.internalId);
    if (cached?.generation === generation) return cached.router;
    const { dimensions } = store.options;
    const rows = this.db.prepare(`SELECT id, parent, centroid FROM ${store.tables.centroids} ORDER BY id`).all() as { id: number; parent: number | null; centroid: Buffer }[];
    const coarseRows = rows.filter((row) => row.id < 0).sort((a, b) => b.id - a.id); // -1, -2, …
    const fineRows = rows.filter((row) => row.id > 0);
    const pack = (list: typeof rows) => {
      const out = new Float32Array(list.length * dimensions);
      list.forEach((row, i) => out.set(float32FromBlob(row.centroid, dimensions), i * dimensions));
      return out;
    };
    const centroids: IvfCentroids = { dimensions, coarse: pack(coarseRows), fine: pack(fineRows), parent: Int32Array.from(fineRows, (row) => row.parent ?? 0) };
    const router = new IvfRouter(centroids);
    this.routers.set(store.internalId, { generation, router });
    return router;
  }

  /** Nearest chunks by cosine similarity, best first. Quantized stores: a first pass over the
   *  quantized vectors for limit × oversampling candidates, rescored with the float vectors. */
  private vectorRanking(store: Store, vector: Float32Array, limit: number, filter: SqlFragment | undefined, attributeFilter?: AttributeFilter): Ranked[] {
    const { tables, options } = store;
    const quantized = options.quantization !== 'none';
    const firstPassK = quantized ? Math.min(maxKnn, limit * this.oversampling[options.quantization as 'int8' | 'bit']) : limit;
    let candidates: { id: number; distance: number }[];
    if (isPartitioned(store)) {
      candidates = this.partitionedFirstPass(store, vector, firstPassK, filter, attributeFilter && compileFilter(attributeFilter, tables.attributes, 'f.id'));
    } else {
      const preFilter = filter ? `AND rowid IN (SELECT c.id FROM ${tables.chunks} c WHERE ${filter.sql})` : '';
      const knn = this.db.prepare(
        `SELECT rowid AS id, distance FROM ${tables.vectors}
         WHERE embedding MATCH ${vec0Parameter(options.quantization)} AND k = ? ${preFilter}
         ORDER BY distance`,
      ) as Database.Statement<unknown[], { id: number; distance: number }>;
      candidates = knn.all(encodeForVec0(vector, options.quantization), firstPassK, ...(filter?.params ?? []));
    }
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

  /** The quantized first pass of a partitioned store: the codes of the nprobe partitions nearest the
   *  query (every code while the store is not partitioned yet), nearest first. With a filter, the
   *  filter is a condition of the same SQL; if the probed partitions hold fewer than k matching
   *  chunks, every partition is read (with the filter), so that a selective filter still yields
   *  maxResults hits when that many chunks match. */
  private partitionedFirstPass(store: Store, vector: Float32Array, k: number, filter: SqlFragment | undefined, filterOnFiles: SqlFragment | undefined): { id: number; distance: number }[] {
    const { tables, options } = store;
    const distance =
      options.quantization === 'bit' ? 'vec_distance_hamming(vec_bit(k.code), vec_bit(?))' : 'vec_distance_cosine(vec_int8(k.code), vec_int8(?))';
    const code = encodeForVec0(vector, options.quantization);
    const router = this.router(store);
    const params = filter?.params ?? [];
    if (router) {
      const probes = router.nearest(vector, this.ivf.nprobe, this.ivf.coarseProbe);
      // The filter as a correlated EXISTS, so that SQLite keeps driving the scan by partition.
      const filterSql = filter ? `AND EXISTS (SELECT 1 FROM ${tables.chunks} c WHERE c.id = k.chunk AND ${filter.sql})` : '';
      const rows = this.db
        .prepare(
          `SELECT k.chunk AS id, ${distance} AS distance FROM ${tables.codes} k
           WHERE k.partition IN (SELECT value FROM json_each(?)) ${filterSql}
           ORDER BY distance LIMIT ?`,
        )
        .all(code, JSON.stringify(probes), ...params, k) as { id: number; distance: number }[];
      if (!filter || rows.length >= k) return rows;
    }
    // Every partition. A filter is evaluated once per file here (then its chunks by index), not once
    // per chunk: that is what makes a selective filter cheap.
    const byFile = filterOnFiles ? `WHERE k.chunk IN (SELECT c.id FROM ${tables.files} f JOIN ${tables.chunks} c ON c.file = f.id WHERE ${filterOnFiles.sql})` : '';
    return this.db
      .prepare(`SELECT k.chunk AS id, ${distance} AS distance FROM ${tables.codes} k ${byFile} ORDER BY distance LIMIT ?`)
      .all(code, ...(filterOnFiles?.params ?? []), k) as { id: number; distance: number }[];
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
  const { dimensions, quantization, partitioning } = options;
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > maxDimensions) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Embedding dimensions must be an integer from 1 to ${maxDimensions}, not ${dimensions}.`, 'dimensions');
  }
  if (!['none', 'int8', 'bit'].includes(quantization)) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Quantization must be none, int8 or bit, not ${String(quantization)}.`, 'quantization');
  }
  if (partitioning !== undefined && partitioning !== 'none' && partitioning !== 'ivf') {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Partitioning must be none or ivf, not ${String(partitioning)}.`, 'partitioning');
  }
  if (partitioning === 'ivf' && quantization === 'none') {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', 'ivf partitioning speeds up a quantized search; choose int8 or bit quantization with it, or no partitioning.', 'partitioning');
  }
  if (quantization === 'bit' && dimensions % 8 !== 0) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `bit quantization needs dimensions divisible by 8; ${dimensions} is not. Use int8 or none.`, 'quantization');
  }
}

/** The right length, finite, not all zeros (cosine distance to a zero vector is undefined, and
 *  sqlite-vec would rank it first). Exported for writers that must refuse what the index would. */
export function checkVector(vector: Float32Array, store: Pick<Store, 'storeId' | 'options'>, what: string): void {
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

function isPartitioned(store: Store): boolean {
  return store.options.partitioning === 'ivf';
}

/** A float32 blob as a Float32Array (copied: a Buffer's offset need not be 4-aligned). */
function float32FromBlob(blob: Buffer, dimensions: number): Float32Array {
  if (blob.byteLength !== dimensions * 4) throw new Error(`a stored embedding has ${blob.byteLength} bytes, not ${dimensions * 4}`);
  const out = new Float32Array(dimensions);
  new Uint8Array(out.buffer).set(blob);
  return out;
}
