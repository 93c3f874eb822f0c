import type { Command } from 'commander';
import { loadConfig } from '../../../core/config/index.js';
import { listModelFiles } from '../../../core/runtimes/index.js';
import { synthesizeModel, type SynthPreset, type SynthQuant } from '../../../models/synth/index.js';
import { synthesizeOnnxEmbeddingModel } from '../../../models/onnx/index.js';
import { progressBar } from '../progress.js';

export function registerModels(program: Command): void {
  const models = program.command('models').description('List local models and generate synthetic ones');

  models
    .command('list')
    .description('List the GGUF models in the models dir')
    .option('--data-dir <dir>', 'data dir (env LLMSVC_DATA_DIR)')
    .option('--models-dir <dir>', 'models dir (env LLMSVC_MODELS_DIR)')
    .option('--json', 'print JSON for scripts')
    .action((flags: { dataDir?: string; modelsDir?: string; json?: boolean }) => {
      const config = loadConfig({ flags: { data_dir: flags.dataDir, models_dir: flags.modelsDir } });
      const files = listModelFiles(config.models_dir);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(files, null, 2)}\n`);
        return;
      }
      if (files.length === 0) {
        process.stdout.write(`No models in ${config.models_dir}. Copy a .gguf file there, or generate one with 'llmsvc models synth'.\n`);
        return;
      }
      for (const file of files) process.stdout.write(`${file.id.padEnd(40)} ${(file.bytes / 2 ** 20).toFixed(1).padStart(10)} MiB\n`);
    });

  models
    .command('synth')
    .description('Write a llama-architecture GGUF with random weights of a real shape (for tests and benchmarks; it answers gibberish)')
    .requiredOption('--out <file>', 'where to write the .gguf file')
    .option('--preset <preset>', 'tiny | small (SmolLM-135M shape) | 1b (TinyLlama-1.1B shape)', 'tiny')
    .option('--quant <quant>', 'f16 | q8_0 (default: f16 for tiny, q8_0 otherwise)')
    .option('--vocab-from <file>', 'copy the tokenizer of another GGUF model')
    .option('--seed <n>', 'random seed (same seed, same file)', '1')
    .option('--context-length <tokens>', "training context to declare (default: the preset's 2048)")
    .action(async (flags: { out: string; preset: string; quant?: string; vocabFrom?: string; seed: string; contextLength?: string }) => {
      if (!['tiny', 'small', '1b'].includes(flags.preset)) throw new Error(`Unknown preset '${flags.preset}': use tiny, small or 1b.`);
      if (flags.quant && !['f16', 'q8_0'].includes(flags.quant)) throw new Error(`Unknown quant '${flags.quant}': use f16 or q8_0.`);
      const bar = progressBar('writing');
      const result = await synthesizeModel({
        outFile: flags.out,
        preset: flags.preset as SynthPreset,
        quant: flags.quant as SynthQuant | undefined,
        vocabFrom: flags.vocabFrom,
        seed: Number(flags.seed),
        contextLength: flags.contextLength === undefined ? undefined : Number(flags.contextLength),
        onProgress: bar.update,
      });
      bar.done();
      process.stdout.write(
        `Wrote ${result.outFile}: preset ${result.preset}, ${result.quant}, ${(result.parameters / 1e6).toFixed(1)}M parameters, ` +
          `vocabulary ${result.vocabSize}, ${(result.bytes / 2 ** 20).toFixed(1)} MiB\n`,
      );
    });

  models
    .command('synth-embedding')
    .description('Write a sentence-embedding model directory (ONNX, BERT-style, WordPiece) with random weights of a real shape, served from the models dir')
    .requiredOption('--out <dir>', 'the model directory to write; its name is the model id')
    .option('--preset <preset>', 'tiny (32 dimensions) | small (384 dimensions)', 'small')
    .option('--dim <n>', "embedding dimension (default: the preset's)")
    .option('--layers <n>', "encoder layers (default: the preset's)")
    .option('--max-length <tokens>', "longest input in tokens (default: the preset's)")
    .option('--pooling <mode>', 'mean | cls | max', 'mean')
    .option('--no-normalize', 'leave vectors unnormalised')
    .option('--seed <n>', 'random seed (same seed, same files)', '0')
    .option('--force', 'replace an existing directory')
    .action(
      async (flags: { out: string; preset: string; dim?: string; layers?: string; maxLength?: string; pooling: string; normalize: boolean; seed: string; force?: boolean }) => {
        if (!['tiny', 'small'].includes(flags.preset)) throw new Error(`Unknown preset '${flags.preset}': use tiny or small.`);
        if (!['mean', 'cls', 'max'].includes(flags.pooling)) throw new Error(`Unknown pooling '${flags.pooling}': use mean, cls or max.`);
        const optionalNumber = (value: string | undefined) => (value === undefined ? undefined : Number(value));
        const result = await synthesizeOnnxEmbeddingModel(flags.out, {
          preset: flags.preset as 'tiny' | 'small',
          dim: optionalNumber(flags.dim),
          layers: optionalNumber(flags.layers),
          maxLength: optionalNumber(flags.maxLength),
          pooling: flags.pooling as 'mean' | 'cls' | 'max',
          normalize: flags.normalize,
          seed: Number(flags.seed),
          overwrite: flags.force === true,
        });
        process.stdout.write(
          `Wrote ${result.dir}: ${result.dim} dimensions, ${(result.parameters / 1e6).toFixed(2)}M parameters, vocabulary ${result.vocabSize}, ` +
            `up to ${result.maxLength} tokens, ${(result.bytes / 2 ** 20).toFixed(1)} MiB\n`,
        );
      },
    );
}
