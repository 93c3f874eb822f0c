import type { Db } from '../database.js';
import { vec0ColumnType } from './quantize.js';
import type { IndexOptions } from './types.js';

/** The registry of indexes. Store ids come from clients (`vs_…`), so they are never part of a table
 *  name: each store gets an integer here and its tables are named after that integer. */
export const registryTable = 'vector_index_stores';

export function ensureRegistry(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS ${registryTable} (
      id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so neither are table names
      store_id TEXT NOT NULL UNIQUE,
      dimensions INTEGER NOT NULL,
      quantization TEXT NOT NULL CHECK (quantization IN ('none', 'int8', 'bit')),
      partitioning TEXT NOT NULL DEFAULT 'none' CHECK (partitioning IN ('none', 'ivf'))
    )`);
  // Registries made before partitioned stores existed lack the column; their stores are all 'none'.
  const columns = db.prepare(`SELECT name FROM pragma_table_info('${registryTable}')`).pluck().all() as string[];
  if (!columns.includes('partitioning')) {
    db.exec(`ALTER TABLE ${registryTable} ADD COLUMN partitioning TEXT NOT NULL DEFAULT 'none' CHECK (partitioning IN ('none', 'ivf'))`);
  }
}

export interface StoreTables {
  /** One row per file: its id and attributes (JSON, as given). */
  files: string;
  /** The attributes again, one row per key, for filtering in SQL. */
  attributes: string;
  /** One row per chunk: text, position, and the float32 embedding when the vec0 table holds only
   *  a quantized copy (rescoring reads it by row id, which is far cheaper than a vec0 lookup). */
  chunks: string;
  /** vec0: the first-pass vectors, rowid = chunk id. Not created for partitioned ('ivf') stores. */
  vectors: string;
  /** Partitioned stores only: the quantized first-pass vectors, clustered by partition (0 = not yet
   *  partitioned), so that reading a partition is one B-tree range. */
  codes: string;
  /** Partitioned stores only: the centroids (coarse rows have no parent; partition id = fine row id). */
  centroids: string;
  /** Partitioned stores only: one row of bookkeeping (row count, rows at the last training, generation). */
  ivf: string;
  /** FTS5, contentless (the text lives in `chunks`), rowid = chunk id. */
  keywords: string;
}

export function storeTables(internalId: number): StoreTables {
  if (!Number.isSafeInteger(internalId) || internalId <= 0) throw new Error(`bad internal store id ${internalId}`);
  const prefix = `vs${internalId}`;
  return {
    files: `${prefix}_files`,
    attributes: `${prefix}_attributes`,
    chunks: `${prefix}_chunks`,
    vectors: `${prefix}_vectors`,
    keywords: `${prefix}_keywords`,
    codes: `${prefix}_codes`,
    centroids: `${prefix}_centroids`,
    ivf: `${prefix}_ivf`,
  };
}

/** vec0 stores vectors in blobs of this many rows; sqlite-vec's own default. bench/vectors.ts
 *  compares other sizes. */
export const defaultVec0ChunkSize = 1024;

export function createStoreTables(db: Db, tables: StoreTables, options: IndexOptions, vec0ChunkSize = defaultVec0ChunkSize): void {
  if (!Number.isInteger(vec0ChunkSize) || vec0ChunkSize <= 0 || vec0ChunkSize % 8 !== 0) throw new Error(`vec0 chunk_size must be a positive multiple of 8, not ${vec0ChunkSize}`);
  db.exec(`
    CREATE TABLE ${tables.files} (
      id INTEGER PRIMARY KEY,
      file_id TEXT NOT NULL UNIQUE,
      attributes TEXT NOT NULL
    );
    CREATE TABLE ${tables.attributes} (
      file INTEGER NOT NULL REFERENCES ${tables.files} (id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      kind TEXT NOT NULL,
      value,
      PRIMARY KEY (file, key)
    ) WITHOUT ROWID;
    CREATE INDEX ${tables.attributes}_key_value ON ${tables.attributes} (key, value);
    CREATE TABLE ${tables.chunks} (
      id INTEGER PRIMARY KEY,
      file INTEGER NOT NULL REFERENCES ${tables.files} (id) ON DELETE CASCADE,
      chunk_index INTEGER NOT NULL,
      text TEXT NOT NULL,
      embedding BLOB,
      UNIQUE (file, chunk_index)
    );
    ${options.partitioning === 'ivf' ? partitionedTablesSql(tables) : vec0TableSql(tables, options, vec0ChunkSize)}
    CREATE VIRTUAL TABLE ${tables.keywords} USING fts5(
      text, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2'
    );
  `);
}

function vec0TableSql(tables: StoreTables, options: IndexOptions, vec0ChunkSize: number): string {
  return `CREATE VIRTUAL TABLE ${tables.vectors} USING vec0(
      embedding ${vec0ColumnType(options.quantization, options.dimensions)},
      chunk_size=${vec0ChunkSize}
    );`;
}

/** A plain table rather than vec0 with a `partition key` column: sqlite-vec 0.1.9 answers
 *  `partition IN (…)` with one KNN per partition (k rows each, LIMIT refused), cannot UPDATE a
 *  partition key (re-partitioning would rebuild the table), and measured 1.5–2.5× slower than this
 *  table scanned with vec_distance_hamming / vec_distance_cosine over the same partitions. */
function partitionedTablesSql(tables: StoreTables): string {
  return `CREATE TABLE ${tables.codes} (
      partition INTEGER NOT NULL,
      chunk INTEGER NOT NULL,
      code BLOB NOT NULL,
      PRIMARY KEY (partition, chunk)
    ) WITHOUT ROWID;
    CREATE INDEX ${tables.codes}_chunk ON ${tables.codes} (chunk);
    CREATE TABLE ${tables.centroids} (
      id INTEGER PRIMARY KEY,
      parent INTEGER,
      centroid BLOB NOT NULL
    );
    CREATE TABLE ${tables.ivf} (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      row_count INTEGER NOT NULL,
      trained_rows INTEGER NOT NULL,
      generation INTEGER NOT NULL
    );
    INSERT INTO ${tables.ivf} (id, row_count, trained_rows, generation) VALUES (1, 0, 0, 0);`;
}

export function dropStoreTables(db: Db, tables: StoreTables): void {
  // Children first: the foreign keys point at the files table.
  for (const table of [tables.keywords, tables.vectors, tables.codes, tables.centroids, tables.ivf, tables.chunks, tables.attributes, tables.files]) {
    db.exec(`DROP TABLE IF EXISTS ${table}`);
  }
}
