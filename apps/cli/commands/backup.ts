import path from 'node:path';
import type { Command } from 'commander';
import { createBackup, restoreBackup } from '../lifecycle/backup.js';
import type { S3Overrides } from '../lifecycle/backupS3.js';
import { isS3Url, parseS3Url } from '../lifecycle/s3Url.js';

/** The S3 side of backup and restore, loaded only for an s3:// address: the AWS SDK costs every
 *  command that imports it ~24 MB and its load time. */
const s3Backups = () => import('../lifecycle/backupS3.js');
import { configFrom, printJson, withCommonOptions, type CommonFlags } from '../lifecycle/commonFlags.js';
import { progressBar } from '../progress.js';
import { packageVersion } from '../version.js';

type S3Flags = { s3Endpoint?: string; s3Region?: string; s3ForcePathStyle?: boolean };

/** The S3 options backup and restore share; the config's storage section supplies the defaults. */
function withS3Options(command: Command): Command {
  return command
    .option('--s3-endpoint <url>', 'S3 endpoint for an s3:// address (MinIO, Ceph…; default: storage.endpoint of the config, else AWS)')
    .option('--s3-region <region>', 'S3 region (default: storage.region of the config, else us-east-1)')
    .option('--s3-force-path-style', 'path-style S3 addresses (default: storage.force_path_style of the config)');
}

const s3Overrides = (flags: S3Flags): S3Overrides => ({
  ...(flags.s3Endpoint ? { endpoint: flags.s3Endpoint } : {}),
  ...(flags.s3Region ? { region: flags.s3Region } : {}),
  ...(flags.s3ForcePathStyle ? { forcePathStyle: true } : {}),
});

export function registerBackup(program: Command): void {
  withS3Options(withCommonOptions(program.command('backup')))
    .description('Snapshot the data dir while the server runs: databases through SQLite\'s online backup API, every other file, the config, and a manifest with the SHA-256 of each file; to a directory or to S3')
    .requiredOption('--out <dir|s3://bucket/prefix>', 'a new (or empty) directory for the backup, or an S3 prefix (the backup goes under PREFIX/llmsvc-backup-TIMESTAMP/, manifest.json last)')
    .option('--with-models', 'also copy the models dir')
    .option('--json', 'print the manifest as JSON')
    .action(async (flags: CommonFlags & S3Flags & { out: string; withModels?: boolean }) => {
      const config = configFrom(flags);
      const bar = progressBar('checksums');
      if (isS3Url(flags.out)) {
        const { backupToS3, s3ClientSettings } = await s3Backups();
        const uploadBar = progressBar('upload');
        const { manifest, url } = await backupToS3({
          config, configFile: flags.config, location: parseS3Url(flags.out), client: s3ClientSettings(config, s3Overrides(flags)),
          withModels: flags.withModels === true, version: packageVersion(), onProgress: bar.update, onUpload: uploadBar.update,
        });
        bar.done();
        uploadBar.done();
        if (flags.json) printJson({ ...manifest, location: url });
        else {
          const bytes = manifest.files.reduce((sum, file) => sum + file.size, 0);
          process.stdout.write(`Backed up ${config.data_dir} to ${url}: ${manifest.files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB, schema version ${manifest.schema_version}.\n` +
            (manifest.blobs_not_included ? `${manifest.blobs_not_included}\n` : '') +
            `Restore it with 'llmsvc restore --from ${url} --data-dir DIR'.\n`);
        }
        return;
      }
      const out = path.resolve(flags.out);
      const manifest = await createBackup({ config, configFile: flags.config, out, withModels: flags.withModels === true, version: packageVersion(), onProgress: bar.update });
      bar.done();
      if (flags.json) printJson(manifest);
      else {
        const bytes = manifest.files.reduce((sum, file) => sum + file.size, 0);
        process.stdout.write(`Backed up ${config.data_dir} to ${out}: ${manifest.files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB, schema version ${manifest.schema_version}.\n` +
          `Restore it with 'llmsvc restore --from ${out} --data-dir DIR'.\n`);
      }
    });

  withS3Options(withCommonOptions(program.command('restore')))
    .description('Restore a backup into a data dir after verifying every checksum (stop the server that uses that data dir first); from a directory or from S3 (downloaded to a temporary dir and verified first)')
    .requiredOption('--from <dir|s3://bucket/prefix/name>', 'the backup directory, or the S3 address backup printed (s3://bucket/prefix/llmsvc-backup-TIMESTAMP)')
    .option('--force', 'overwrite a data dir that is not empty')
    .option('--json', 'print the result as JSON')
    .action(async (flags: CommonFlags & S3Flags & { from: string; force?: boolean }) => {
      const config = configFrom(flags);
      const force = flags.force === true;
      const downloadBar = progressBar('download');
      const s3 = isS3Url(flags.from) ? await s3Backups() : undefined;
      const result = s3
        ? await s3.restoreFromS3({ location: parseS3Url(flags.from), client: s3.s3ClientSettings(config, s3Overrides(flags)), dataDir: config.data_dir, modelsDir: config.models_dir, force, onDownload: downloadBar.update })
        : await restoreBackup({ from: path.resolve(flags.from), dataDir: config.data_dir, modelsDir: config.models_dir, force });
      if (s3) downloadBar.done();
      if (flags.json) printJson({ data_dir: config.data_dir, files: result.files, config_file: result.configFile ?? null, schema_version: result.manifest.schema_version });
      else {
        process.stdout.write(`Restored ${result.files} files from ${flags.from} into ${config.data_dir} (backup of ${result.manifest.created_at}).\n`);
        if (result.configFile) process.stdout.write(`The backup's config is in ${result.configFile}: start with 'llmsvc serve --data-dir ${config.data_dir} --config ${result.configFile}'.\n`);
        else process.stdout.write(`Start it with 'llmsvc serve --data-dir ${config.data_dir}'.\n`);
      }
    });
}
