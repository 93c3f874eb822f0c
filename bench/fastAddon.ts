// The fast addon benchmark (issue 17): decode speed of node-llama-cpp on the tiny model, in one
// process, on three addons side by side — the prebuilt llama-addon.node (the peer), llmsvc's fast
// addon with node-llama-cpp's own sampling (an AsyncWorker per token), and the fast addon with
// one-stream sampling on the calling thread (what llmsvc runs). Rounds alternate between them so
// that they share the machine's load; the figures are the medians of per-round ratios.
//
//   npm run build:fast-addon && node --import tsx bench/fastAddon.ts [--quick]
import { getLlama, LlamaCompletion, LlamaLogLevel, type Llama, type LlamaContext } from 'node-llama-cpp';
import { defaultFastAddonDir, loadFastLlama } from '../core/runtimes/llama/fastAddon.js';
import { assertTinyModel, benchLogger, machineInfo, markdownTable, median, runBenchmark, textTable, tinyModelPath, writeResultsSection } from './support.js';

const quick = process.argv.includes('--quick');
const rounds = quick ? 10 : 20;
const maxTokens = 96;
const log = benchLogger('fastAddon');

type Variant = 'prebuilt' | 'fast, stock sampling' | 'fast, sync sampling';
const variants: Variant[] = ['prebuilt', 'fast, stock sampling', 'fast, sync sampling'];

async function loadVariant(variant: Variant): Promise<Llama> {
  if (variant === 'prebuilt') return getLlama({ gpu: false, build: 'never' });
  const dir = process.env.LLMSVC_FAST_ADDON_DIR || defaultFastAddonDir()!;
  const outcome = await loadFastLlama(dir, { gpu: false, logLevel: LlamaLogLevel.warn, logger: () => {}, syncSampling: variant === 'fast, sync sampling' });
  if (outcome.status === 'absent') throw new Error(`no fast addon in ${dir}: run npm run build:fast-addon`);
  if (outcome.status === 'refused') throw new Error(`the fast addon in ${dir} is not usable: ${outcome.reason}`);
  return outcome.llama;
}

/** Tokens per second of `streams` completions decoding together on one context. */
async function decodeRate(context: LlamaContext, streams: number, seed: number): Promise<number> {
  let tokens = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: streams }, async (_, i) => {
    const sequence = context.getSequence();
    try {
      const completion = new LlamaCompletion({ contextSequence: sequence });
      await completion.generateCompletion(`Once upon a time ${i}`, { maxTokens, temperature: 0.8, seed: seed + i, onToken: (chunk) => (tokens += chunk.length) });
    } finally {
      sequence.dispose();
    }
  }));
  return tokens / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  assertTinyModel();
  const llamas = new Map<Variant, Llama>();
  try {
    for (const variant of variants) llamas.set(variant, await loadVariant(variant));
    const rows: string[][] = [];
    for (const streams of [1, 4]) {
      const contexts = new Map<Variant, LlamaContext>();
      for (const [variant, llama] of llamas) {
        const model = await llama.loadModel({ modelPath: tinyModelPath });
        contexts.set(variant, await model.createContext({ contextSize: 512 * streams, sequences: streams, threads: 1 }));
      }
      const rates = new Map<Variant, number[]>(variants.map((variant) => [variant, []]));
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) rates.get(variant)!.push(await decodeRate(contexts.get(variant)!, streams, round * 16));
      }
      const peer = rates.get('prebuilt')!;
      for (const variant of variants) {
        const own = rates.get(variant)!;
        rows.push([String(streams), variant, median(own).toFixed(0), `${median(own.map((rate, i) => rate / peer[i]!)).toFixed(3)}×`]);
      }
      for (const context of contexts.values()) await context.model.dispose();
      log(`${streams} stream(s) done`);
    }
    const header = ['streams', 'addon', 'tok/s (median)', '÷ prebuilt (median of per-round ratios)'];
    process.stdout.write(`\n${textTable(header, rows)}\n`);
    const info = machineInfo();
    writeResultsSection('Fast addon (issue 17)', [
      `## Fast addon (issue 17) — ${new Date().toISOString()}`,
      '',
      `- Command: \`npm run build:fast-addon && node --import tsx bench/fastAddon.ts${quick ? ' --quick' : ''}\``,
      `- Machine: ${info.cpu}, ${info.cores} cores, node-llama-cpp ${info.nodeLlamaCpp}; load average at the end ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`,
      `- Tiny model, 1 thread, ${maxTokens} tokens per stream at temperature 0.8, ${rounds} rounds alternating between the addons in one process.`,
      '',
      markdownTable(header, rows),
      '',
    ].join('\n'));
  } finally {
    for (const llama of llamas.values()) await llama.dispose();
  }
}

await runBenchmark('fastAddon', main);
