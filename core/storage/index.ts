import path from 'node:path';
import type { Config } from '../config/index.js';
import { DataDirBlobStore } from './dataDirStore.js';
import { S3BlobStore } from './s3Store.js';
import type { BlobStore } from './types.js';

export { DataDirBlobStore } from './dataDirStore.js';
export { S3BlobStore, type S3Settings } from './s3Store.js';
export { StorageUnavailableError, type BlobStore, type StoredBlob } from './types.js';

/** The configured store of file contents: <data_dir>/blobs (default) or an S3 bucket. */
export function createBlobStore(config: Pick<Config, 'storage' | 'data_dir'>): BlobStore {
  const storage = config.storage;
  if (storage.type === 's3') return new S3BlobStore(storage);
  return new DataDirBlobStore(path.join(config.data_dir, 'blobs'));
}
export { FileContents } from './fileContents.js';
