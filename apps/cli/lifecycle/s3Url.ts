/** s3:// addresses of backups: plain string work, kept apart from backupS3.ts so that telling a
 *  directory from an S3 address does not load the AWS SDK. */

/** A bucket and a key prefix ('' or without a trailing '/'), from s3://bucket/prefix. */
export interface S3Location {
  bucket: string;
  prefix: string;
}

export const isS3Url = (value: string) => value.startsWith('s3://');

export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new Error(`${url} is not an S3 address: write s3://bucket/prefix.`);
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}

