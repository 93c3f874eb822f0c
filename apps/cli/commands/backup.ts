import path from 'node:path';
import type { Command } from 'commander';
import { createBackup, restoreBackup } from '../lifecycle/backup.js';
import { configFrom, printJson, withCommonOptions, type CommonFlags } from '../lifecycle/commonFlags.js';
import { progressBar } from '../progress.js';
import { packageVersion } from '../version.js';

export function registerBackup(program: Command): void {
  withCommonOptions(program.command('backup'))
    .description('Snapshot the data dir while the server runs: databases through SQLite\'s online backup API, every other file, the config, and a manifest with the SHA-256 of each file')
    .requiredOption('--out <dir>', 'a new (or empty) directory for the backup')
    .option('--with-models', 'also copy the models dir')
    .option('--json', 'print the manifest as JSON')
    .action(async (flags: CommonFlags & { out: string; withModels?: boolean }) => {
      const config = configFrom(flags);
      const bar = progressBar('checksums');
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

  withCommonOptions(program.command('restore'))
    .description('Restore a backup into a data dir after verifying every checksum (stop the server that uses that data dir first)')
    .requiredOption('--from <dir>', 'the backup directory (made by llmsvc backup)')
    .option('--force', 'overwrite a data dir that is not empty')
    .option('--json', 'print the result as JSON')
    .action(async (flags: CommonFlags & { from: string; force?: boolean }) => {
      const config = configFrom(flags);
      const result = await restoreBackup({ from: path.resolve(flags.from), dataDir: config.data_dir, modelsDir: config.models_dir, force: flags.force === true });
      if (flags.json) printJson({ data_dir: config.data_dir, files: result.files, config_file: result.configFile ?? null, schema_version: result.manifest.schema_version });
      else {
        process.stdout.write(`Restored ${result.files} files from ${flags.from} into ${config.data_dir} (backup of ${result.manifest.created_at}).\n`);
        if (result.configFile) process.stdout.write(`The backup's config is in ${result.configFile}: start with 'llmsvc serve --data-dir ${config.data_dir} --config ${result.configFile}'.\n`);
        else process.stdout.write(`Start it with 'llmsvc serve --data-dir ${config.data_dir}'.\n`);
      }
    });
}
