import { createHash, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { StorageUnavailableError, type BlobStore, type StoredBlob } from './types.js';

export interface S3Settings {
  bucket: string;
  prefix: string;
  endpoint?: string | undefined;
  region: string;
  force_path_style: boolean;
}

/** Blobs as objects in an S3 bucket (AWS, MinIO, Ceph…), under `prefix` with a random name.
 *  Credentials come from the AWS SDK's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 *  AWS_PROFILE and the shared credentials file, instance roles): llmsvc never reads or logs them.
 *  Uploads stream through @aws-sdk/lib-storage (multipart above 5 MiB; a failed multipart upload
 *  is aborted, so no object appears half-written). */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.force_path_style,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 3000, requestTimeout: 30_000 },
    });
  }

  async put(content: Readable | AsyncIterable<Uint8Array | string>): Promise<StoredBlob> {
    const key = `${this.settings.prefix}${randomUUID()}`;
    const hash = createHash('sha256');
    let bytes = 0;
    const body = new PassThrough();
    const source = Readable.from(content);
    source.on('data', (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      hash.update(buffer);
      bytes += buffer.length;
    });
    source.on('error', (error) => body.destroy(error));
    source.pipe(body);
    const upload = new Upload({ client: this.client, params: { Bucket: this.settings.bucket, Key: key, Body: body }, leavePartsOnError: false });
    try {
      await upload.done();
    } catch (error) {
      source.destroy();
      throw unavailable(error, 'store the file');
    }
    return { key, bytes, sha256: hash.digest('hex') };
  }

  async get(key: string): Promise<Readable> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      return response.Body as Readable;
    } catch (error) {
      throw unavailable(error, 'read the file');
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    } catch (error) {
      throw unavailable(error, 'delete the file');
    }
  }
}

/** Any failure to reach the bucket or write to it, as one error that says what failed (never
 *  the credentials). A client error from the caller's own stream (e.g. a body over the limit) is
 *  passed on as it is. */
function unavailable(error: unknown, what: string): Error {
  if ((error as { code?: string }).code?.startsWith('FST_')) return error as Error;
  const detail = error instanceof S3ServiceException ? `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? '?'})` : (error as Error).message;
  return new StorageUnavailableError(`The S3 file store could not ${what}: ${detail}.`);
}
