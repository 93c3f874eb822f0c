import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../config/index.js';
import { DataDirBlobStore } from './dataDirStore.js';
import type { S3Settings } from './s3Store.js';
import type { BlobStore, StoredBlob } from './types.js';

export { DataDirBlobStore } from './dataDirStore.js';
// The S3 store itself is imported from './s3Store.js' by what needs it (see LazyS3BlobStore).
export type { S3Settings } from './s3Store.js';
export { StorageUnavailableError, type BlobStore, type StoredBlob } from './types.js';

/** The S3 store, loaded on its first use: importing the AWS SDK costs the process ~24 MB of
 *  memory (measured), which a server that keeps its files in the data dir should not pay. */
class LazyS3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  private store: Promise<BlobStore> | undefined;

  constructor(private readonly settings: S3Settings) {}

  private load(): Promise<BlobStore> {
    this.store ??= import('./s3Store.js').then(({ S3BlobStore }) => new S3BlobStore(this.settings));
    return this.store;
  }

  async put(content: Readable | AsyncIterable<Uint8Array | string>): Promise<StoredBlob> {
    return (await this.load()).put(content);
  }

  async get(key: string): Promise<Readable> {
    return (await this.load()).get(key);
  }

  async delete(key: string): Promise<void> {
    return (await this.load()).delete(key);
  }
}

/** The configured store of file contents: <data_dir>/blobs (default) or an S3 bucket. */
export function createBlobStore(config: Pick<Config, 'storage' | 'data_dir'>): BlobStore {
  const storage = config.storage;
  if (storage.type === 's3') return new LazyS3BlobStore(storage);
  return new DataDirBlobStore(path.join(config.data_dir, 'blobs'));
}
export { FileContents } from './fileContents.js';
