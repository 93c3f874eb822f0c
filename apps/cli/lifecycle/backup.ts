import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../../core/config/index.js';
import { Database } from '../../../core/store/sqlite.js';
import { describeFiles, listFilesRecursive, verifyFiles, type ManifestFile } from './checksum.js';

export const backupManifestName = 'manifest.json';

export interface BackupManifest {
  format: 'llmsvc-backup/1';
  created_at: string;
  llmsvc_version: string;
  /** user_version of llmsvc.sqlite when it was copied. */
  schema_version: number | null;
  /** Paths are relative to the backup dir: data/… (the data dir), models/… (with --with-models),
   *  config.json (with --config). */
  files: ManifestFile[];
  /** Set when the data dir's file contents live in an S3 bucket (storage.type s3): those blobs
   *  are not in the backup, they stay where they are; the database rows point at them. */
  blobs_not_included?: string;
}

/** SQLite files the server holds open: copied through SQLite's online backup API (a consistent
 *  snapshot while writers keep writing), never byte-copied; their WAL and shared-memory files
 *  belong to the live database and are not copied at all. */
const isSqliteSidecar = (name: string) => /\.(sqlite|db)-(wal|shm|journal)$/.test(name);
const isSqliteDatabase = (name: string) => /\.(sqlite|db)$/.test(name);

export interface BackupOptions {
  config: Config;
  configFile?: string;
  out: string;
  withModels: boolean;
  version: string;
  onProgress?: (done: number, total: number) => void;
}

/** A backup is of one box's data dir. With database_url the data lives in PostgreSQL, whose own
 *  tools back it up consistently while every node keeps writing. */
function refuseSharedDatabase(config: Config): void {
  if (config.database_url === undefined) return;
  throw new Error(`This llmsvc keeps its data in PostgreSQL (database_url), not in ${config.data_dir}: back the database up with pg_dump (or your PostgreSQL's backups), and file contents in S3 with the bucket's versioning or replication.`);
}

/** Writes the backup into a temporary sibling of `out`, then renames it: a backup dir either is
 *  complete (manifest last) or does not exist. */
export async function createBackup(options: BackupOptions): Promise<BackupManifest> {
  const { config, out } = options;
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new Error(`${out} is not empty: choose a new directory for the backup.`);
  refuseSharedDatabase(config);
  if (!fs.existsSync(path.join(config.data_dir, 'llmsvc.sqlite'))) throw new Error(`No llmsvc database in ${config.data_dir}: check --data-dir.`);
  const work = `${out.replace(/\/+$/, '')}.partial-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'data'), { recursive: true, mode: 0o700 });
  try {
    const modelsInside = path.relative(config.data_dir, config.models_dir);
    const modelsUnderData = !modelsInside.startsWith('..') && !path.isAbsolute(modelsInside);
    // With an S3 blob store, file contents already live in the bucket (the manifest says so);
    // a blobs/ folder left from an earlier data-dir store is not what the database points at.
    const blobsElsewhere = config.storage.type === 's3';
    const skipped = (relative: string, folder: string) => relative === folder || relative.startsWith(`${folder}/`);
    const dataFiles = listFilesRecursive(config.data_dir, (relative) => (modelsUnderData && skipped(relative, modelsInside)) || (blobsElsewhere && skipped(relative, 'blobs')) || isSqliteSidecar(relative));
    let schemaVersion: number | null = null;
    for (const relative of dataFiles) {
      const target = path.join(work, 'data', relative);
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      if (isSqliteDatabase(relative)) {
        const db = new Database(path.join(config.data_dir, relative), { fileMustExist: true });
        try {
          db.pragma('busy_timeout = 5000');
          // After the first step, the rest in one step: it reads one WAL snapshot while the server
          // keeps writing, where many small steps would each be restarted by the server's commits.
          await db.backup(target, { progress: () => 2 ** 30 });
          if (relative === 'llmsvc.sqlite') schemaVersion = db.pragma('user_version', { simple: true }) as number;
        } finally {
          db.close();
        }
      } else {
        fs.copyFileSync(path.join(config.data_dir, relative), target);
      }
      fs.chmodSync(target, fs.statSync(path.join(config.data_dir, relative)).mode & 0o777);
    }
    if (options.withModels && fs.existsSync(config.models_dir)) {
      for (const relative of listFilesRecursive(config.models_dir)) {
        const target = path.join(work, 'models', relative);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.copyFileSync(path.join(config.models_dir, relative), target);
      }
    }
    if (options.configFile) fs.copyFileSync(options.configFile, path.join(work, 'config.json'));
    const relatives = listFilesRecursive(work);
    const manifest: BackupManifest = {
      format: 'llmsvc-backup/1',
      created_at: new Date().toISOString(),
      llmsvc_version: options.version,
      schema_version: schemaVersion,
      files: await describeFiles(work, relatives, options.onProgress),
      ...(config.storage.type === 's3'
        ? { blobs_not_included: `File contents live in s3://${config.storage.bucket}/${config.storage.prefix} (storage.type s3) and are not copied into this backup; the restored database points at them there.` }
        : {}),
    };
    fs.writeFileSync(path.join(work, backupManifestName), `${JSON.stringify(manifest, null, 2)}\n`);
    if (fs.existsSync(out)) fs.rmdirSync(out);
    fs.renameSync(work, out);
    return manifest;
  } catch (error) {
    fs.rmSync(work, { recursive: true, force: true });
    throw error;
  }
}

export function readBackupManifest(dir: string): BackupManifest {
  const file = path.join(dir, backupManifestName);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as BackupManifest;
  } catch (error) {
    throw new Error(`${dir} is not an llmsvc backup (${file}: ${(error as Error).message}).`);
  }
  if (manifest.format !== 'llmsvc-backup/1' || !Array.isArray(manifest.files)) throw new Error(`${file} is not an llmsvc backup manifest.`);
  return manifest;
}

export interface RestoreOptions {
  from: string;
  dataDir: string;
  /** Where models/… of the backup go (default <data-dir>/models). */
  modelsDir?: string;
  force: boolean;
  /** How the backup is named in messages (default: the `from` dir), e.g. its s3:// address when
   *  `from` is the temporary dir it was downloaded to. */
  source?: string;
}

export interface RestoreResult {
  files: number;
  configFile?: string;
  manifest: BackupManifest;
}

/** Verifies every checksum first, then copies into a temporary dir beside the target and moves
 *  the files into place. Stale WAL/shm files of a replaced database are removed (SQLite would
 *  otherwise replay them over the restored file). */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const manifest = readBackupManifest(options.from);
  const problems = await verifyFiles(options.from, manifest.files);
  if (problems.length > 0) throw new Error(`The backup in ${options.source ?? options.from} fails its checksums, nothing restored: ${problems.join('; ')}`);
  const dataDir = path.resolve(options.dataDir);
  const modelsDir = path.resolve(options.modelsDir ?? path.join(dataDir, 'models'));
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0 && !options.force) {
    throw new Error(`${dataDir} is not empty: restore into an empty directory, or pass --force to overwrite it (stop llmsvc first).`);
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  const work = fs.mkdtempSync(path.join(dataDir, '.restore-'));
  try {
    const moves: [string, string][] = [];
    for (const file of manifest.files) {
      const [top, ...rest] = file.path.split('/');
      const destination = top === 'data' ? path.join(dataDir, ...rest) : top === 'models' ? path.join(modelsDir, ...rest) : path.join(dataDir, file.path);
      const staged = path.join(work, file.path);
      fs.mkdirSync(path.dirname(staged), { recursive: true });
      fs.copyFileSync(path.join(options.from, file.path), staged);
      fs.chmodSync(staged, fs.statSync(path.join(options.from, file.path)).mode & 0o777);
      moves.push([staged, destination]);
    }
    for (const [staged, destination] of moves) {
      fs.mkdirSync(path.dirname(destination), { recursive: true, mode: 0o700 });
      if (isSqliteDatabase(destination)) for (const suffix of ['-wal', '-shm', '-journal']) fs.rmSync(`${destination}${suffix}`, { force: true });
      moveFile(staged, destination);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const hasConfig = manifest.files.some((file) => file.path === 'config.json');
  return { files: manifest.files.length, manifest, ...(hasConfig ? { configFile: path.join(dataDir, 'config.json') } : {}) };
}

/** rename, or copy and remove when the destination is on another filesystem (a models dir elsewhere). */
export function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    fs.copyFileSync(from, `${to}.partial`);
    fs.renameSync(`${to}.partial`, to);
    fs.rmSync(from);
  }
}
