import path from 'node:path';
import type { Command } from 'commander';
import { configFrom, printJson, withCommonOptions, type CommonFlags } from '../lifecycle/commonFlags.js';
import { exportModels, importModels, pullModel, readCatalog } from '../lifecycle/modelTransfer.js';
import { progressBar } from '../progress.js';

/** export / import / pull / catalog, attached to the existing `models` command. */
export function registerModelTransfer(models: Command): void {
  withCommonOptions(models.command('export'))
    .description('Copy models (GGUF files, ONNX model dirs) out of the models dir with a manifest: SHA-256, size, architecture, parameters, quantization, context length')
    .argument('<ids...>', 'model ids (as in llmsvc models list)')
    .requiredOption('--out <dir>', 'where to write (e.g. a USB drive); models already there stay in its manifest')
    .option('--json', 'print the manifest entries as JSON')
    .action(async (ids: string[], flags: CommonFlags & { out: string }) => {
      const config = configFrom(flags);
      const bar = progressBar('exporting');
      const entries = await exportModels(config.models_dir, ids, path.resolve(flags.out), bar.update);
      bar.done();
      if (flags.json) printJson(entries);
      else for (const e of entries) process.stdout.write(`Exported ${e.id} (${e.kind}${e.gguf ? `, ${e.gguf.architecture}, ${e.gguf.quantization}` : ''}) to ${flags.out}\n`);
    });

  withCommonOptions(models.command('import'))
    .description('Copy the models of an export into the models dir; each file is checked against the manifest before it takes its name, so a tampered or truncated model is refused and nothing half-copied stays')
    .argument('<dir>', 'a directory made by llmsvc models export')
    .option('--force', 'replace a model of the same id that differs')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, flags: CommonFlags & { force?: boolean }) => {
      const config = configFrom(flags);
      const bar = progressBar('importing');
      const result = await importModels(path.resolve(dir), config.models_dir, { force: flags.force === true, onProgress: bar.update });
      bar.done();
      if (flags.json) printJson({ models_dir: config.models_dir, ...result });
      else {
        for (const id of result.imported) process.stdout.write(`Imported ${id} into ${config.models_dir}\n`);
        for (const id of result.unchanged) process.stdout.write(`${id} is already in ${config.models_dir} (same checksums)\n`);
      }
    });

  withCommonOptions(models.command('pull'))
    .description('Download a model from the catalog (or a URL) on an internet-connected machine: resumable (HTTP Range), SHA-256 checked when the catalog has one')
    .argument('<id-or-url>', "a catalog id (see 'llmsvc models catalog') or an https URL of a .gguf file")
    .option('--to <dir>', 'the directory to download into (default: the models dir); then export or copy it to the air-gapped machine')
    .option('--sha256 <hex>', 'expected SHA-256 (overrides the catalog)')
    .option('--json', 'print the result as JSON')
    .action(async (idOrUrl: string, flags: CommonFlags & { to?: string; sha256?: string }) => {
      const to = flags.to ? path.resolve(flags.to) : configFrom(flags).models_dir;
      const bar = progressBar('downloading');
      const result = await pullModel(idOrUrl, to, { sha256: flags.sha256, onProgress: bar.update });
      bar.done();
      if (flags.json) printJson(result);
      else
        process.stdout.write(
          `Downloaded ${result.file} (${(result.bytes / 2 ** 20).toFixed(1)} MiB${result.resumedFrom ? `, resumed at ${result.resumedFrom} bytes` : ''}); ` +
            `SHA-256 ${result.sha256}${result.verified ? ' matches' : ' (no checksum to compare: check it against the publisher)'}.\n`,
        );
    });

  models
    .command('catalog')
    .description('List the well-known models llmsvc models pull knows (id, source, SHA-256, license)')
    .option('--json', 'print JSON for scripts')
    .action((flags: { json?: boolean }) => {
      const catalog = readCatalog();
      if (flags.json) printJson(catalog);
      else for (const e of catalog) process.stdout.write(`${e.id.padEnd(32)} ${e.license.padEnd(12)} ${e.sha256 ? 'sha256 ' : 'no sha256'} ${e.source_url}\n`);
    });
}
