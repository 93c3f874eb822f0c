import { ApiError } from '../errors/index.js';
import type { Readable } from 'node:stream';

/** A stored blob: where it is, and what was written. */
export interface StoredBlob {
  key: string;
  bytes: number;
  /** Of the content, hex. */
  sha256: string;
}

/** Where file contents live (uploads, batch outputs): the data dir or S3. Streams both ways, so
 *  a large file never sits whole in memory. */
export interface BlobStore {
  readonly kind: 'data_dir' | 's3';
  /** Stores the stream. Either all of it is stored and the promise resolves, or nothing is
   *  (the promise rejects: StorageUnavailableError when the store cannot be reached). */
  put(content: Readable | AsyncIterable<Uint8Array | string>): Promise<StoredBlob>;
  get(key: string): Promise<Readable>;
  delete(key: string): Promise<void>;
}

/** The store could not be reached or refused the write: the client gets a 503 that says so. */
export class StorageUnavailableError extends ApiError {
  constructor(message: string) {
    super('LLMSVC_ERR_STORAGE_UNAVAILABLE', `${message} Nothing was stored; retry later, or ask the operator to check the storage settings.`);
  }
}
