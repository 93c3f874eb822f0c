// GGUF embedding micro-batching (#17): throughput of concurrent /v1/embeddings requests to one
// model, with batching (the default) against `--no-embedding-batch` (one input at a time), in one
// run. Two `llmsvc serve --threads 1` processes run side by side on the same model; rounds
// alternate between them, which goes first rotating, so machine noise hits both.
//
// Each round sends `--requests` single-input requests (tiny model 256, small 32: its inputs cost
// ~0.3 s each on one thread) from `--concurrency` clients (the official `openai` SDK, float
// vectors), of two kinds: inputs of 32 tokens each (what a group decodes together) and distinct
// texts of 8–40 words (each of its own length, which a group embeds one at a time: see
// sameLengthRuns in core/runtimes/llama/multiSequenceEmbedding.ts). Figures: inputs/s (median over the
// rounds) and latency p50, the ratio batched / one at a time, the mean group size the batched
// server reports on /metrics, and the largest difference between the two servers' vectors for the
// same text (0: identical). Groups are decoded together only when the runtime runs on llmsvc's
// fast addon (its native `getSequenceEmbedding`); on stock node-llama-cpp they are evaluated one
// input at a time and the ratio shows only the queue's cost. It prints; it writes no results.
//
//   npx tsc -p tsconfig.json && node --import tsx bench/embeddings.ts [--quick] [--model tiny|small]
//     [--inputs equal,mixed] [--concurrency 8] [--requests 256] [--rounds 3]
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
/** Requests per round: --requests, else by model (the small model is ~100× slower per input). */
const requestsFor = (choice: string) => Number(option('requests', choice === 'small' ? '32' : quick ? '96' : '256'));
const rounds = Number(option('rounds', quick ? '2' : '3'));
/** 'tiny' (the test model) or 'small' (the synthetic 135M-shape model); both unless --quick or --model. */
const models = option('model', quick ? 'tiny' : 'tiny,small').split(',');
const log = benchLogger('embeddings');

const words = 'river stone lantern copper meadow signal harbor winter orchard quiet thunder paper velvet engine garden silver'.split(' ');
/** Inputs of one kind, the same on every run: 'equal', 32 token ids each (a document chunked by
 *  tokens: the inputs a group decodes together), or 'mixed', distinct texts of 8 to 40 words
 *  (each of its own length: a group embeds them one at a time, see sameLengthRuns). */
type Kind = 'equal' | 'mixed';
const inputOf = (kind: Kind, index: number): string | number[] =>
  kind === 'equal'
    ? Array.from({ length: 32 }, (_, k) => 100 + ((index * 131 + k * 17) % 900))
    : Array.from({ length: 8 + ((index * 7) % 33) }, (_, k) => words[(index * 31 + k * 17) % words.length]).join(' ') + ` #${index}`;
const kinds = option('inputs', 'equal,mixed').split(',') as Kind[];

interface Round {
  seconds: number;
  latenciesMs: number[];
}

async function round(client: OpenAI, model: string, kind: Kind, requests: number, offset: number): Promise<Round> {
  let next = 0;
  const latenciesMs: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const index = offset + next++;
        const sent = performance.now();
        await client.embeddings.create({ model, input: inputOf(kind, index), encoding_format: 'float' });
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

/** Largest difference between the two servers' vectors for the same 16 concurrent inputs. */
async function maxDifference(clients: OpenAI[], model: string, kind: Kind): Promise<number> {
  const probe = Array.from({ length: 16 }, (_, i) => inputOf(kind, 1_000_000 + i));
  const [a, b] = await Promise.all(
    clients.map((client) => Promise.all(probe.map(async (input) => (await client.embeddings.create({ model, input, encoding_format: 'float' })).data[0]!.embedding))),
  );
  let max = 0;
  a!.forEach((vector, i) => vector.forEach((value, j) => (max = Math.max(max, Math.abs(value - b![i]![j]!)))));
  return max;
}

async function benchModel(choice: string): Promise<string[][]> {
  const requests = requestsFor(choice);
  let modelsDir = testModelsDir;
  let model = tinyModelId;
  if (choice === 'small') {
    const file = await ensureSynthModel('small', log);
    modelsDir = path.dirname(file);
    model = path.basename(file, '.gguf');
  } else assertTinyModel();
  // info: the batched server says whether its groups decode together (the same level on both sides).
  const extraArgs = ['--log-level', 'info'];
  const [batched, unbatched] = await Promise.all([
    startServe({ modelsDir, extraArgs }),
    startServe({ modelsDir, extraArgs: [...extraArgs, '--no-embedding-batch'] }),
  ]);
  try {
    const clients = new Map([batched, unbatched].map((server) => [server, new OpenAI({ baseURL: `${server.url}/v1`, apiKey: server.apiKey, maxRetries: 0, timeout: 600_000 })]));
    const rows: string[][] = [];
    let together: boolean | undefined;
    for (const kind of kinds) {
      // Also loads the model on both the first time.
      const difference = await maxDifference([...clients.values()], model, kind);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the runtime thread's log line crosses a channel
      // Read after the first embeddings: the request log lines of the rounds push it out of the tail.
      together ??= batched.stderrTail().includes('embedding groups decode together');
      const before = await groups(batched, model);
      const results = new Map<ServeProcess, Round[]>([[batched, []], [unbatched, []]]);
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? [batched, unbatched] : [unbatched, batched];
        for (const server of order) {
          const result = await round(clients.get(server)!, model, kind, requests, r * requests);
          results.get(server)!.push(result);
          log(`${model} ${kind} round ${r + 1} ${server === batched ? 'batched' : 'one at a time'}: ${(requests / result.seconds).toFixed(1)} inputs/s`);
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
      rows.push(
        [model, kind, String(requests), together ? 'batched (fast addon)' : 'batched (stock addon)', on.rate.toFixed(1), on.p50.toFixed(1), meanGroup.toFixed(2), (on.rate / off.rate).toFixed(2) + '×', difference.toExponential(1)],
        [model, kind, String(requests), '--no-embedding-batch', off.rate.toFixed(1), off.p50.toFixed(1), '1.00', '1.00×', ''],
      );
    }
    return rows;
  } finally {
    await Promise.all([batched.stop(), unbatched.stop()]);
  }
}

await runBenchmark('embeddings', async () => {
  assertBuilt();
  const rows: string[][] = [];
  for (const choice of models) rows.push(...(await benchModel(choice)));
  process.stdout.write(`\nsingle-input embedding requests from ${concurrency} concurrent clients, ${rounds} rounds per side, serve --threads 1\n`);
  process.stdout.write(textTable(['model', 'inputs', 'requests/round', 'server', 'inputs/s (median)', 'latency p50 ms', 'mean group', 'vs one at a time', 'max |Δ| of vectors'], rows));
});
