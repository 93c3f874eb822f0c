import type { SqliteVectorIndex } from './SqliteVectorIndex.js';
import type { Attributes, ChunkInput, IndexOptions, SearchHit, SearchQuery, VectorIndexReader, VectorIndexWriter } from './types.js';

/** The SQLite index behind the asynchronous interfaces the services use on either engine. Its
 *  writes run on the store's one connection, so they are part of whatever transaction is open. */
export class SqliteVectorIndexAccess implements VectorIndexReader, VectorIndexWriter {
  constructor(readonly index: SqliteVectorIndex) {}

  async create(storeId: string, options: IndexOptions): Promise<void> {
    this.index.create(storeId, options);
  }

  async drop(storeId: string): Promise<void> {
    this.index.drop(storeId);
  }

  async putFile(storeId: string, fileId: string, attributes: Attributes, chunks: ChunkInput[]): Promise<void> {
    this.index.putFile(storeId, fileId, attributes, chunks);
  }

  async removeFile(storeId: string, fileId: string): Promise<void> {
    this.index.removeFile(storeId, fileId);
  }

  async setAttributes(storeId: string, fileId: string, attributes: Attributes): Promise<void> {
    this.index.setAttributes(storeId, fileId, attributes);
  }

  async options(storeId: string): Promise<IndexOptions | undefined> {
    return this.index.options(storeId);
  }

  async search(storeId: string, query: SearchQuery): Promise<SearchHit[]> {
    return this.index.search(storeId, query);
  }

  async chunkCount(storeId: string): Promise<number> {
    return this.index.chunkCount(storeId);
  }
}
