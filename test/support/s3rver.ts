import type { AddressInfo } from 'node:net';
// s3rver ships no types; the little used here is typed below.
// @ts-expect-error: no declaration file
import S3rver from 's3rver';
import { tempDir } from './server.js';

export interface S3Server {
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}

/** A real S3-compatible server (s3rver) on loopback, port 0, with one bucket. s3rver accepts the
 *  credentials S3RVER/S3RVER, which the tests hand to the AWS SDK through its usual env vars. */
export async function startS3(bucket = 'llmsvc-test'): Promise<S3Server> {
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: tempDir('s3rver-'), configureBuckets: [{ name: bucket, configs: [] }], resetOnClose: true });
  const address = (await server.run()) as AddressInfo;
  return { endpoint: `http://127.0.0.1:${address.port}`, bucket, close: () => server.close() };
}

export const s3Credentials = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
