// Batch jobs against live traffic, in one run on one `llmsvc serve` (tiny model, or with `--model
// small` the synthetic 135M-shape model; cache off):
//  1. the same short chat requests sent live at concurrency 1, 2, 4, 8 (`--concurrency`; the best is the peer);
//  2. the same requests as one batch (OpenAI Batch API), alone on the server as the live rows were:
//     lines/min and completion tokens/s;
//  3. interactive time to first token, p50/p99, idle and while a second batch (`--ttft-lines`,
//     default 300) runs; that batch's own lines/min, slowed by the probes, is printed too.
// Batch lines hold at most `--cap` of the model's sequences (batch_max_sequences_per_model; default
// 'auto', the shipped default: all but one). It prints; it writes no results.
//
// `--cpu-prof` runs the server under `node --cpu-prof` and prints where its main thread's CPU went
// while the batch ran (bench/cpuProfile.ts).
//
//   npx tsc -p tsconfig.json && node --import tsx bench/batch.ts [--lines 1000] [--parallel 8] [--cap auto|N]
//     [--model tiny|small] [--concurrency 1,2,4,8] [--ttft-lines 300] [--cpu-prof]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { summarizeProfile, topEntries } from './cpuProfile.js';
import {
  assertBuilt,
  assertTinyModel,
  benchLogger,
  ensureSynthModel,
  percentile,
  projectRoot,
  runBenchmark,
  sleep,
  startServe,
  testModelsDir,
  textTable,
  tinyModelId,
} from './support.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}

const lines = Number(option('lines', '1000'));
/** Lines of the second batch, the one interactive TTFT is sampled against. */
const ttftLines = Number(option('ttft-lines', String(Math.min(lines, 300))));
const parallel = Number(option('parallel', '8'));
/** 'tiny' (the test model) or 'small' (the synthetic 135M-shape model, generated once into bench/.work). */
const modelChoice = option('model', 'tiny');
const concurrencies = option('concurrency', '1,2,4,8').split(',').map(Number);
const cpuProf = process.argv.includes('--cpu-prof');
/** batch_max_sequences_per_model: 'auto' (all sequences but one) by default, as shipped. */
const cap = option('cap', 'auto');
const maxTokens = 16;
const log = benchLogger('batch');

let modelId = tinyModelId;
const body = (index: number) => ({ model: modelId, messages: [{ role: 'user' as const, content: `Line ${index}: name a colour.` }], max_tokens: maxTokens, temperature: 0, seed: index });

async function live(client: OpenAI, concurrency: number): Promise<{ seconds: number; tokens: number }> {
  let next = 0;
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < lines) {
        const completion = await client.chat.completions.create(body(next++));
        tokens += completion.usage!.completion_tokens;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, tokens };
}

async function ttfts(client: OpenAI, count: number, keepGoing: () => boolean = () => true): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count && keepGoing(); index++) {
    const started = performance.now();
    const stream = await client.chat.completions.create({ ...body(100_000 + index), max_tokens: 4, stream: true });
    let first: number | undefined;
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) first ??= performance.now();
    if (first !== undefined) samples.push(first - started);
    await sleep(50);
  }
  return samples;
}

await runBenchmark('batch', async () => {
  assertBuilt();
  let modelsDir = testModelsDir;
  if (modelChoice === 'small') {
    const file = await ensureSynthModel('small', log);
    modelsDir = path.dirname(file);
    modelId = path.basename(file, '.gguf');
  } else assertTinyModel();
  const profileDir = cpuProf ? fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-batch-prof-')) : undefined;
  const server = await startServe({
    modelsDir,
    extraArgs: ['--parallel', String(parallel), '--context-size', '512', '--log-level', 'warn'],
    env: { LLMSVC_BATCH_MAX_SEQUENCES_PER_MODEL: String(cap) },
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=500'] : [],
  });
  let batchWindow: { from: number; to: number } | undefined;
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: server.apiKey, maxRetries: 0, timeout: 600_000 });
    await client.chat.completions.create(body(-1)); // load the model
    const idle = await ttfts(client, 30);
    log(`idle TTFT p50 ${percentile(idle, 50).toFixed(1)} ms`);

    const liveRows: { concurrency: number; seconds: number; tokens: number }[] = [];
    for (const concurrency of concurrencies) {
      const result = await live(client, concurrency);
      liveRows.push({ concurrency, ...result });
      log(`live c=${concurrency}: ${(lines / result.seconds * 60).toFixed(0)} lines/min`);
    }
    const best = liveRows.reduce((a, b) => (b.seconds < a.seconds ? b : a));

    const alone = await runBatch(client, 0, lines);
    batchWindow = { from: alone.startedAt - server.spawnedAt, to: alone.endedAt - server.spawnedAt };
    log(`batch alone: ${(lines / alone.seconds * 60).toFixed(0)} lines/min`);

    let probing = true;
    const probed = runBatch(client, lines, ttftLines).finally(() => (probing = false));
    const busy = await ttfts(client, 100_000, () => probing);
    const withProbes = await probed;

    const rows = [
      ...liveRows.map((row) => [`live, concurrency ${row.concurrency}`, (lines / row.seconds * 60).toFixed(0), (row.tokens / row.seconds).toFixed(0)]),
      ['batch', (lines / alone.seconds * 60).toFixed(0), (alone.tokens / alone.seconds).toFixed(0)],
      [`batch of ${ttftLines} while TTFT is probed`, (ttftLines / withProbes.seconds * 60).toFixed(0), (withProbes.tokens / withProbes.seconds).toFixed(0)],
    ];
    process.stdout.write(`\n${lines} short chats (max_tokens ${maxTokens}) on ${modelId}, parallel ${parallel}, batch lines may hold ${cap} sequences\n`);
    process.stdout.write(textTable(['mode', 'lines/min', 'completion tokens/s'], rows));
    process.stdout.write(`\nbatch / best live (c=${best.concurrency}) throughput: ${(best.seconds / alone.seconds).toFixed(2)}×\n`);
    process.stdout.write(
      textTable(
        ['interactive TTFT', 'samples', 'p50 ms', 'p99 ms'],
        [
          ['idle', String(idle.length), percentile(idle, 50).toFixed(1), percentile(idle, 99).toFixed(1)],
          ['while a batch runs', String(busy.length), percentile(busy, 50).toFixed(1), percentile(busy, 99).toFixed(1)],
        ],
      ),
    );
    process.stdout.write(`\nTTFT p50 while the batch runs / idle: ${(percentile(busy, 50) / percentile(idle, 50)).toFixed(2)}×\n`);
  } finally {
    await server.stop();
  }
  if (profileDir && batchWindow) printProfile(profileDir, batchWindow);
});

/** Lines [first, first + count) of the chats as one OpenAI batch, run to the end. */
async function runBatch(client: OpenAI, first: number, count: number): Promise<{ seconds: number; tokens: number; startedAt: number; endedAt: number }> {
  const jsonl = Array.from({ length: count }, (_, index) => JSON.stringify({ custom_id: `l-${first + index}`, method: 'POST', url: '/v1/chat/completions', body: body(first + index) })).join('\n');
  const input = await client.files.create({ file: await toFile(Buffer.from(jsonl), 'bench.jsonl'), purpose: 'batch' });
  const startedAt = performance.now();
  let batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
    await sleep(100);
    batch = await client.batches.retrieve(batch.id);
  }
  const endedAt = performance.now();
  if (batch.status !== 'completed') throw new Error(`the batch ended ${batch.status}`);
  const output = (await (await client.files.content(batch.output_file_id!)).text()).trim().split('\n');
  const tokens = output.reduce((total, line) => total + (JSON.parse(line).response.body.usage.completion_tokens as number), 0);
  return { seconds: (endedAt - startedAt) / 1000, tokens, startedAt, endedAt };
}

/** Where the server's main thread spent the batch's window (approximate: the profile's clock starts
 *  near the server's spawn, which is where the window is measured from). */
function printProfile(profileDir: string, window: { from: number; to: number }): void {
  const file = fs.readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) return log('no CPU profile was written');
  const summary = summarizeProfile(path.join(profileDir, file), projectRoot);
  const ms = (us: number) => (us / 1000).toFixed(0);
  process.stdout.write(`\nserver main thread, whole run (batch ran ${(window.from / 1000).toFixed(1)}–${(window.to / 1000).toFixed(1)} s after spawn): busy ${ms(summary.busyUs)} ms, idle ${ms(summary.idleUs)} ms\n`);
  process.stdout.write(textTable(['owner', 'self ms'], topEntries(summary.owners, 10).map(([owner, us]) => [owner, ms(us)])));
  process.stdout.write(textTable(['llmsvc function (inclusive)', 'ms'], topEntries(summary.projectInclusive, 15).map(([name, us]) => [name, ms(us)])));
  process.stdout.write(`profile: ${path.join(profileDir, file)}\n`);
}
