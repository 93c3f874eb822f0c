import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Config } from '../../../core/config/index.js';
import { createS3Client, s3ErrorDetail, type S3Settings } from '../../../core/storage/s3Store.js';
import { backupManifestName, createBackup, restoreBackup, type BackupManifest, type BackupOptions, type RestoreResult } from './backup.js';
import { isSafeRelative } from './checksum.js';
import type { S3Location } from './s3Url.js';

export { isS3Url, parseS3Url, type S3Location } from './s3Url.js';

export const s3Url = (location: S3Location) => `s3://${location.bucket}/${location.prefix}`;
const keyOf = (location: S3Location, relative: string) => (location.prefix ? `${location.prefix}/${relative}` : relative);

/** Flags that override the config's `storage` section for one backup or restore. */
export interface S3Overrides {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

/** Endpoint, region and path style: the flags, else the config's storage section when it is S3
 *  (the bucket the blob store uses is usually the one backups go to), else the SDK's defaults. */
export function s3ClientSettings(config: Config, overrides: S3Overrides): Pick<S3Settings, 'endpoint' | 'region' | 'force_path_style'> {
  const storage = config.storage.type === 's3' ? config.storage : undefined;
  return {
    endpoint: overrides.endpoint ?? storage?.endpoint,
    region: overrides.region ?? storage?.region ?? 'us-east-1',
    force_path_style: overrides.forcePathStyle ?? storage?.force_path_style ?? false,
  };
}

export interface S3BackupOptions extends Omit<BackupOptions, 'out'> {
  location: S3Location;
  client: Pick<S3Settings, 'endpoint' | 'region' | 'force_path_style'>;
  onUpload?: (done: number, total: number) => void;
}

/** The local backup, made in a temporary dir exactly as `backup --out DIR` makes it, then uploaded
 *  under <prefix>/<backup name>/, each file streamed (lib-storage: multipart for large ones) with
 *  its permission bits as object metadata, and manifest.json LAST: a backup whose manifest is
 *  missing is incomplete, and restore says so. */
export async function backupToS3(options: S3BackupOptions): Promise<{ manifest: BackupManifest; url: string }> {
  const name = `llmsvc-backup-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
  const target: S3Location = { bucket: options.location.bucket, prefix: keyOf(options.location, name) };
  const temporary = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-backup-'));
  try {
    const local = path.join(temporary, name);
    const manifest = await createBackup({ ...options, out: local });
    const client = createS3Client(options.client);
    const relatives = [...manifest.files.map((file) => file.path), backupManifestName];
    try {
      for (const [index, relative] of relatives.entries()) {
        const file = path.join(local, relative);
        const mode = (fs.statSync(file).mode & 0o777).toString(8);
        const upload = new Upload({
          client,
          params: { Bucket: target.bucket, Key: keyOf(target, relative), Body: fs.createReadStream(file), Metadata: { mode } },
          leavePartsOnError: false,
        });
        await upload.done();
        options.onUpload?.(index + 1, relatives.length);
      }
    } catch (error) {
      throw new Error(
        `Could not upload the backup to ${s3Url(target)} (${s3ErrorDetail(error)}): it has no ${backupManifestName}, so it is incomplete and restore refuses it; check the endpoint, bucket and credentials and run backup again.`,
      );
    } finally {
      client.destroy();
    }
    return { manifest, url: s3Url(target) };
  } finally {
    fs.rmSync(temporary, { recursive: true, force: true });
  }
}

export interface S3RestoreOptions {
  location: S3Location;
  client: Pick<S3Settings, 'endpoint' | 'region' | 'force_path_style'>;
  dataDir: string;
  modelsDir?: string;
  force: boolean;
  onDownload?: (done: number, total: number) => void;
}

/** Downloads the backup to a temporary dir (its manifest first, then each file it lists), then
 *  restores exactly as from a local dir: every checksum is verified before anything is written
 *  to the data dir, so a failed download or a changed object restores nothing. */
export async function restoreFromS3(options: S3RestoreOptions): Promise<RestoreResult & { url: string }> {
  const url = s3Url(options.location);
  const dataDir = path.resolve(options.dataDir);
  // Checked again by restoreBackup; here too, so a refused restore downloads nothing.
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0 && !options.force) {
    throw new Error(`${dataDir} is not empty: restore into an empty directory, or pass --force to overwrite it (stop llmsvc first).`);
  }
  const client = createS3Client(options.client);
  const temporary = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-restore-'));
  try {
    let manifest: BackupManifest;
    try {
      await download(client, options.location, backupManifestName, temporary);
    } catch (error) {
      if (error instanceof NoSuchKey) throw new Error(`No llmsvc backup at ${url}: ${backupManifestName} is missing (the wrong prefix, or a backup whose upload did not finish).${await backupsUnder(client, options.location)}`);
      throw new Error(`Could not download the backup from ${url} (${s3ErrorDetail(error)}); nothing was restored: check the endpoint, bucket and credentials.`);
    }
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(temporary, backupManifestName), 'utf8')) as BackupManifest;
    } catch (error) {
      throw new Error(`${url} is not an llmsvc backup (${backupManifestName}: ${(error as Error).message}).`);
    }
    if (manifest.format !== 'llmsvc-backup/1' || !Array.isArray(manifest.files)) throw new Error(`${url}/${backupManifestName} is not an llmsvc backup manifest.`);
    for (const [index, file] of manifest.files.entries()) {
      if (!isSafeRelative(file.path)) throw new Error(`The backup at ${url} names a path outside it (${file.path}); nothing was restored.`);
      try {
        await download(client, options.location, file.path, temporary);
      } catch (error) {
        if (error instanceof NoSuchKey) continue; // reported as missing by the checksum check, with the others
        throw new Error(`Could not download ${file.path} of the backup from ${url} (${s3ErrorDetail(error)}); nothing was restored.`);
      }
      options.onDownload?.(index + 1, manifest.files.length);
    }
    const result = await restoreBackup({ from: temporary, dataDir, force: options.force, source: url, ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}) });
    return { ...result, url };
  } finally {
    client.destroy();
    fs.rmSync(temporary, { recursive: true, force: true });
  }
}

/** One object to a file under dir, streamed, with the permission bits it was uploaded with. */
async function download(client: S3Client, location: S3Location, relative: string, dir: string): Promise<void> {
  const response = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: keyOf(location, relative) }));
  const file = path.join(dir, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  await pipeline(response.Body as Readable, fs.createWriteStream(file, { mode: 0o600 }));
  const mode = Number.parseInt(response.Metadata?.mode ?? '', 8);
  if (Number.isInteger(mode) && mode >= 0 && mode <= 0o777) fs.chmodSync(file, mode);
}

/** " Backups under it: a, b." when the address is the prefix that backups were made to. */
async function backupsUnder(client: S3Client, location: S3Location): Promise<string> {
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix ? `${location.prefix}/` : '', Delimiter: '/', MaxKeys: 1000 }));
    const names = (listed.CommonPrefixes ?? []).map((each) => each.Prefix!.slice(0, -1).split('/').pop()!).filter((name) => name.startsWith('llmsvc-backup-'));
    if (names.length === 0) return '';
    return ` Backups under it: ${names.slice(-5).join(', ')}; pass one with --from ${s3Url(location)}/NAME.`;
  } catch {
    return '';
  }
}
