/** The contract between the vector index (sqlite-vec + FTS5, in this folder) and the retrieval
 *  service above it (core/rag). One index per vector store: its own embedding dimension and
 *  quantization, fixed at creation. */

/** Attribute values OpenAI allows on a vector store file (and so on each of its chunks). */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/** OpenAI's ComparisonFilter and CompoundFilter, as the Vector Stores search API takes them. */
export type AttributeFilter =
  | { type: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte'; key: string; value: AttributeValue }
  | { type: 'and' | 'or'; filters: AttributeFilter[] };

/** none: exact float32 search; int8 / bit: a quantized first pass, rescored exactly. */
export type Quantization = 'none' | 'int8' | 'bit';

/** vector: nearest embeddings; keyword: BM25 over FTS5; hybrid: both, fused by reciprocal rank. */
export type SearchMode = 'vector' | 'keyword' | 'hybrid';

/** none: the quantized first pass reads every vector (linear in the store's size). ivf: the store
 *  is split into ~4·√N partitions by k-means once it holds enough chunks, and a quantized search
 *  reads only the partitions nearest the query (sub-linear, approximate: a neighbour outside them
 *  is missed). Needs int8 or bit quantization. */
export type Partitioning = 'none' | 'ivf';

export interface IndexOptions {
  dimensions: number;
  quantization: Quantization;
  /** Absent means 'none' (stores created before partitioning existed are all 'none'). */
  partitioning?: Partitioning;
}

export interface ChunkInput {
  /** Position of the chunk in its file, from 0. */
  index: number;
  text: string;
  embedding: Float32Array;
}

export interface SearchQuery {
  mode: SearchMode;
  /** Needed for vector and hybrid search; its length must equal the index's dimensions. */
  vector?: Float32Array;
  /** Needed for keyword and hybrid search. */
  text?: string;
  maxResults: number;
  /** Drop hits scoring below this (scores are in [0, 1], higher is better). */
  scoreThreshold?: number;
  filter?: AttributeFilter;
}

export interface SearchHit {
  fileId: string;
  chunkIndex: number;
  text: string;
  /** In [0, 1], higher is better: cosine similarity mapped to [0, 1] for vector search, a
   *  normalised BM25 or fused score otherwise (the implementation documents which). */
  score: number;
  attributes: Attributes;
}

/** What core/rag needs from the index. Writes are transactional: a file's chunks become
 *  searchable all at once or not at all (a crash mid-ingest leaves nothing half-indexed). */
export interface VectorIndex {
  create(storeId: string, options: IndexOptions): void;
  drop(storeId: string): void;
  options(storeId: string): IndexOptions | undefined;
  /** Replaces any chunks the file already has in this store, in one transaction. */
  putFile(storeId: string, fileId: string, attributes: Attributes, chunks: ChunkInput[]): void;
  removeFile(storeId: string, fileId: string): void;
  /** Changes a file's attributes (OpenAI lets a client update them after attaching). */
  setAttributes(storeId: string, fileId: string, attributes: Attributes): void;
  search(storeId: string, query: SearchQuery): SearchHit[];
  chunkCount(storeId: string): number;
}

/** The index's writes, as the services make them inside Store.transaction on either engine: they
 *  commit or roll back with the transaction's other writes. */
export interface VectorIndexWriter {
  create(storeId: string, options: IndexOptions): Promise<void>;
  drop(storeId: string): Promise<void>;
  /** Replaces any chunks the file already has in this store. */
  putFile(storeId: string, fileId: string, attributes: Attributes, chunks: ChunkInput[]): Promise<void>;
  removeFile(storeId: string, fileId: string): Promise<void>;
  setAttributes(storeId: string, fileId: string, attributes: Attributes): Promise<void>;
}

/** The index's reads, on either engine. On PostgreSQL a read first brings this node's copy of the
 *  store up to date, so it sees every write committed before it started, whichever node made it. */
export interface VectorIndexReader {
  options(storeId: string): Promise<IndexOptions | undefined>;
  search(storeId: string, query: SearchQuery): Promise<SearchHit[]>;
  chunkCount(storeId: string): Promise<number>;
}
