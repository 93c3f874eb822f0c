import type { Command } from 'commander';
import { loadConfig } from '../../../core/config/index.js';
import { defaultModelId, listLocalModels } from '../../../core/runtimes/index.js';
import { formatTable } from '../table.js';
import { synthesizeModel, type SynthPreset, type SynthQuant } from '../../../models/synth/index.js';
import { synthesizeOnnxEmbeddingModel } from '../../../models/onnx/index.js';
import { progressBar } from '../progress.js';

export function registerModels(program: Command): void {
  const models = program.command('models').description('List local models and generate synthetic ones');

  models
    .command('list')
    .description('List the local models as the server serves them: GGUF files and ONNX model directories in the models dir (or the built-in smoke-tiny)')
    .option('--data-dir <dir>', 'data dir (env LLMSVC_DATA_DIR)')
    .option('--models-dir <dir>', 'models dir (env LLMSVC_MODELS_DIR)')
    .option('--json', 'print JSON for scripts')
    .action((flags: { dataDir?: string; modelsDir?: string; json?: boolean }) => {
      const config = loadConfig({ flags: { data_dir: flags.dataDir, models_dir: flags.modelsDir } });
      const models = listLocalModels(config);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
        return;
      }
      if (models.length === 0) {
        process.stdout.write(
          `No models in ${config.models_dir}. Copy a .gguf file (or an ONNX embedding model directory) there, or generate one with 'llmsvc models synth'` +
            (config.default_model ? `; 'llmsvc serve' generates the built-in '${defaultModelId}' on its first start.\n` : '.\n'),
        );
        return;
      }
      const uses = { gguf: 'chat, completions, embeddings', onnx: 'embeddings' };
      const rows = models.map((model) => ({
        id: model.id,
        format: model.format,
        serves: uses[model.format],
        size: `${(model.bytes / 2 ** 20).toFixed(1)} MiB`,
        note: model.builtIn ? 'built-in, random weights (gibberish)' : '',
      }));
      process.stdout.write(formatTable(rows, ['id', 'format', 'serves', 'size', 'note']));
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
