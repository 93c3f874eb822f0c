import path from 'node:path';
import type { Command } from 'commander';
import { createBundle, generateSigningKeys, verifyBundle } from '../lifecycle/bundle.js';
import { configFrom, printJson, withCommonOptions, type CommonFlags } from '../lifecycle/commonFlags.js';
import { progressBar } from '../progress.js';

export function registerBundle(program: Command): void {
  const bundle = program.command('bundle').description('Offline install bundles: one verified tar with Node.js, llmsvc, its native modules, models and install.sh');

  bundle
    .command('keygen')
    .description('Create an ed25519 key pair for signing bundles (keep the private key off the air-gapped side)')
    .option('--private-key <file>', 'where to write the private key (mode 600)', 'llmsvc-bundle.key')
    .option('--public-key <file>', 'where to write the public key', 'llmsvc-bundle.pub')
    .action((flags: { privateKey: string; publicKey: string }) => {
      generateSigningKeys(flags.privateKey, flags.publicKey);
      process.stdout.write(`Wrote ${flags.privateKey} (private, mode 600) and ${flags.publicKey}. Sign with 'llmsvc bundle create --sign-key ${flags.privateKey}', check with 'llmsvc bundle verify FILE --public-key ${flags.publicKey}'.\n`);
    });

  withCommonOptions(bundle.command('create'))
    .description('Build an offline bundle from this install: Node.js, the built llmsvc and its production dependencies for the platform, models, install.sh, a manifest with the size and SHA-256 of every file')
    .requiredOption('--out <file>', 'the bundle to write (.tar, or .tar.gz/.tgz to compress)')
    .option('--model <ids...>', 'models of the models dir to include')
    .option('--all-models', 'include every model of the models dir (--models-dir)')
    .option('--platform <platform>', 'target platform', 'linux-x64')
    .option('--node-binary <file>', 'the Node.js binary to bundle (default: this one, when the platform matches)')
    .option('--node-version <version>', "fetch the official Node.js of that version from the npm registry's node-<platform> package (needs the internet)")
    .option('--no-gpu', 'leave out the CUDA and Vulkan builds of llama.cpp (about 630 MB)')
    .option('--sign-key <file>', 'sign the manifest with this ed25519 private key (llmsvc bundle keygen)')
    .option('--release <version>', "the version to record (default: package.json's)")
    .option('--json', 'print the result as JSON')
    .action(async (flags: CommonFlags & { out: string; model?: string[]; allModels?: boolean; platform: string; nodeBinary?: string; nodeVersion?: string; gpu: boolean; signKey?: string; release?: string }) => {
      const config = configFrom(flags);
      const started = Date.now();
      const bar = progressBar('checksums');
      const { manifest, bytes } = await createBundle({
        out: path.resolve(flags.out),
        platform: flags.platform,
        modelsDir: config.models_dir,
        models: flags.model ?? [],
        allModels: flags.allModels === true,
        nodeBinary: flags.nodeBinary,
        nodeVersion: flags.nodeVersion,
        gpu: flags.gpu,
        signKey: flags.signKey,
        release: flags.release,
        onProgress: bar.update,
      });
      bar.done();
      const seconds = (Date.now() - started) / 1000;
      if (flags.json) printJson({ file: path.resolve(flags.out), bytes, seconds, version: manifest.version, platform: manifest.platform, node_version: manifest.node_version, schema_version: manifest.schema_version, models: manifest.models, files: manifest.files.length, signed: flags.signKey !== undefined });
      else
        process.stdout.write(
          `Wrote ${flags.out}: llmsvc ${manifest.version} for ${manifest.platform}, Node.js ${manifest.node_version}, ${manifest.files.length} files, ` +
            `${(bytes / 2 ** 20).toFixed(0)} MiB, in ${seconds.toFixed(1)} s.\nOn the target: tar xf ${path.basename(flags.out)} && sudo ./llmsvc-${manifest.version}-${manifest.platform}/install.sh\n`,
        );
    });

  bundle
    .command('verify')
    .description('Check every file of a bundle (the tar, or an extracted bundle dir) against its manifest, and the signature with --public-key')
    .argument('<bundle>', 'a bundle file or an extracted bundle directory')
    .option('--public-key <file>', 'require a signature by this ed25519 public key')
    .option('--json', 'print the result as JSON')
    .action(async (target: string, flags: { publicKey?: string; json?: boolean }) => {
      const result = await verifyBundle(path.resolve(target), flags.publicKey);
      if (flags.json) printJson(result);
      else if (result.ok) process.stdout.write(`${target}: llmsvc ${result.version}, ${result.files} files verified${result.signed && flags.publicKey ? ', signature valid' : ''}.\n`);
      else process.stderr.write(`${target} fails verification; do not install it:\n${result.problems.map((p) => `  ${p}`).join('\n')}\n`);
      process.exitCode = result.ok ? 0 : 1;
    });
}
