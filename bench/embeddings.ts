// GGUF embedding micro-batching (#17): throughput of concurrent /v1/embeddings requests to one
// model, with batching (the default) against `--no-embedding-batch` (one input at a time), in one
// run. Two `llmsvc serve --threads 1` processes run side by side on the same model; rounds
// alternate between them, which goes first rotating, so machine noise hits both.
//
// Each round sends `--requests` single-input requests from `--concurrency` clients (the official
// `openai` SDK, float vectors), distinct texts of 8–40 words. Figures: inputs/s (median over the
// rounds) and latency p50, the ratio batched / one at a time, the mean group size the batched
// server reports on /metrics, and the largest difference between the two servers' vectors for the
// same text (0: identical). Groups are decoded together only when the runtime runs on llmsvc's
// fast addon (its native `getSequenceEmbedding`); on stock node-llama-cpp they are evaluated one
// input at a time and the ratio shows only the queue's cost. It prints; it writes no results.
//
//   npx tsc -p tsconfig.json && node --import tsx bench/embeddings.ts [--quick] [--model tiny|small]
//     [--concurrency 8] [--requests 256] [--rounds 3]
import path from 'node:path';
import OpenAI from 'openai';
import {
  assertBuilt,
  assertTinyModel,
  benchLogger,
  ensureSynthModel,
  median,
  percentile,
  runBenchmark,
  startServe,
  testModelsDir,
  textTable,
  tinyModelId,
  type ServeProcess,
} from './support.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}

const quick = process.argv.includes('--quick');
const concurrency = Number(option('concurrency', '8'));
const requests = Number(option('requests', quick ? '96' : '256'));
const rounds = Number(option('rounds', quick ? '2' : '3'));
/** 'tiny' (the test model) or 'small' (the synthetic 135M-shape model); both unless --quick or --model. */
const models = option('model', quick ? 'tiny' : 'tiny,small').split(',');
const log = benchLogger('embeddings');

const words = 'river stone lantern copper meadow signal harbor winter orchard quiet thunder paper velvet engine garden silver'.split(' ');
/** Distinct texts of 8 to 40 words, the same on every run. */
const text = (index: number) => Array.from({ length: 8 + ((index * 7) % 33) }, (_, k) => words[(index * 31 + k * 17) % words.length]).join(' ') + ` #${index}`;

interface Round {
  seconds: number;
  latenciesMs: number[];
}

async function round(client: OpenAI, model: string, offset: number): Promise<Round> {
  let next = 0;
  const latenciesMs: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const index = offset + next++;
        const sent = performance.now();
        await client.embeddings.create({ model, input: text(index), encoding_format: 'float' });
        latenciesMs.push(performance.now() - sent);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latenciesMs };
}

/** The batched server's group-size histogram: groups and inputs so far. */
async function groups(server: ServeProcess, model: string): Promise<{ count: number; inputs: number }> {
  const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.apiKey}` } })).text();
  const value = (name: string) => Number(metrics.split('\n').find((line) => line.startsWith(`${name}{model="${model}"}`))?.split(' ').at(-1) ?? 0);
  return { count: value('llmsvc_embedding_batch_inputs_count'), inputs: value('llmsvc_embedding_batch_inputs_sum') };
}

async function benchModel(choice: string): Promise<string[][]> {
  let modelsDir = testModelsDir;
  let model = tinyModelId;
  if (choice === 'small') {
    const file = await ensureSynthModel('small', log);
    modelsDir = path.dirname(file);
    model = path.basename(file, '.gguf');
  } else assertTinyModel();
  const extraArgs = ['--log-level', 'warn'];
  const [batched, unbatched] = await Promise.all([
    startServe({ modelsDir, extraArgs }),
    startServe({ modelsDir, extraArgs: [...extraArgs, '--no-embedding-batch'] }),
  ]);
  try {
    const clients = new Map([batched, unbatched].map((server) => [server, new OpenAI({ baseURL: `${server.url}/v1`, apiKey: server.apiKey, maxRetries: 0, timeout: 600_000 })]));
    // Load the model on both, and compare their vectors for the same texts.
    const probe = Array.from({ length: 16 }, (_, i) => text(1_000_000 + i));
    const [a, b] = await Promise.all(
      [batched, unbatched].map(async (server) => Promise.all(probe.map(async (input) => (await clients.get(server)!.embeddings.create({ model, input, encoding_format: 'float' })).data[0]!.embedding))),
    );
    let maxDifference = 0;
    a!.forEach((vector, i) => vector.forEach((value, j) => (maxDifference = Math.max(maxDifference, Math.abs(value - b![i]![j]!)))));
    const before = await groups(batched, model);
    const results = new Map<ServeProcess, Round[]>([[batched, []], [unbatched, []]]);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [batched, unbatched] : [unbatched, batched];
      for (const server of order) {
        const result = await round(clients.get(server)!, model, r * requests);
        results.get(server)!.push(result);
        log(`${model} round ${r + 1} ${server === batched ? 'batched' : 'one at a time'}: ${(requests / result.seconds).toFixed(0)} inputs/s`);
      }
    }
    const after = await groups(batched, model);
    const figures = (server: ServeProcess) => {
      const rows = results.get(server)!;
      return { rate: median(rows.map((row) => requests / row.seconds)), p50: percentile(rows.flatMap((row) => row.latenciesMs), 50) };
    };
    const on = figures(batched);
    const off = figures(unbatched);
    const meanGroup = (after.inputs - before.inputs) / Math.max(1, after.count - before.count);
    return [
      [model, 'batched', on.rate.toFixed(0), on.p50.toFixed(1), meanGroup.toFixed(2), (on.rate / off.rate).toFixed(2) + '×', maxDifference.toExponential(1)],
      [model, '--no-embedding-batch', off.rate.toFixed(0), off.p50.toFixed(1), '1.00', '1.00×', ''],
    ];
  } finally {
    await Promise.all([batched.stop(), unbatched.stop()]);
  }
}

await runBenchmark('embeddings', async () => {
  assertBuilt();
  const rows: string[][] = [];
  for (const choice of models) rows.push(...(await benchModel(choice)));
  process.stdout.write(`\n${requests} single-input embedding requests per round from ${concurrency} concurrent clients, ${rounds} rounds per side, serve --threads 1\n`);
  process.stdout.write(textTable(['model', 'server', 'inputs/s (median)', 'latency p50 ms', 'mean group', 'vs one at a time', 'max |Δ| of vectors'], rows));
});
