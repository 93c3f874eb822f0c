// Time to first token under load, llmsvc before and after a change, in one run: two `llmsvc serve`
// processes on the tiny model — "before" from a build (dist/ by default), "after" from the sources
// through tsx — get the same rounds of N concurrent streams, alternated, as in scaling.ts
// (`--parallel 16 --context-size 1024 --threads 1`, greedy, 128 tokens). Then the late-arrival
// figure: one request sent 100 ms after 4 long streams started. It prints; it writes no results.
//
//   node --import tsx bench/ttftBeforeAfter.ts [--streams 8] [--rounds 6] [--before dist/apps/cli/main.js]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import OpenAI from 'openai';
import { adminKey, assertTinyModel, median, percentile, projectRoot, runBenchmark, sleep, spawnTracked, stopChild, testModelsDir, textTable, tinyModelId, waitReady } from './support.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}

const streams = Number(option('streams', '8'));
const rounds = Number(option('rounds', '6'));
const beforeCli = path.resolve(projectRoot, option('before', 'dist/apps/cli/main.js'));
const afterCli = path.join(projectRoot, 'apps/cli/main.ts');
const maxTokens = 128;
const serveArgs = ['--threads', '1', '--parallel', '16', '--context-size', '1024', '--log-level', 'warn'];

interface Server {
  name: string;
  client: OpenAI;
  stop(): Promise<void>;
}

async function startServer(name: string, nodeArgs: string[]): Promise<Server> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-ttft-'));
  const child = spawnTracked(process.execPath, [...nodeArgs, 'serve', '--port', '0', '--data-dir', dataDir, '--models-dir', testModelsDir, ...serveArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { LLMSVC_CACHE: 'false', ...process.env, LLMSVC_ADMIN_KEY: adminKey },
    cwd: projectRoot,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-10_000)));
  const stop = async () => {
    await stopChild(child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${stderr}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^llmsvc listening on (http:\/\/\S+)$/.exec(line);
      if (match) resolve(match[1]!);
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  await waitReady(url);
  return { name, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: adminKey, maxRetries: 0, timeout: 600_000 }), stop };
}

let promptCounter = 0;
const prompt = () => `Request ${String(++promptCounter).padStart(5, '0')}. Write a long story about the sea.`;

/** One stream; its TTFT counts from `startedAt`. */
async function stream(server: Server, startedAt: number, tokens: number): Promise<{ ttftMs: number; tokens: number }> {
  const response = await server.client.completions.create({
    model: tinyModelId,
    prompt: prompt(),
    max_tokens: tokens,
    temperature: 0,
    seed: 42,
    stream: true,
    stream_options: { include_usage: true },
  });
  let firstAt: number | undefined;
  let completionTokens = 0;
  for await (const chunk of response) {
    if (chunk.choices[0]?.text) firstAt ??= performance.now();
    if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
  }
  if (firstAt === undefined) throw new Error(`${server.name}: a stream carried no text`);
  return { ttftMs: firstAt - startedAt, tokens: completionTokens };
}

async function round(server: Server, count: number, tokens = maxTokens) {
  const startedAt = performance.now();
  const outcomes = await Promise.all(Array.from({ length: count }, () => stream(server, startedAt, tokens)));
  return { ttfts: outcomes.map((o) => o.ttftMs), tokPerS: outcomes.reduce((sum, o) => sum + o.tokens, 0) / ((performance.now() - startedAt) / 1000) };
}

/** A request sent 100 ms after 4 long streams started: its TTFT, and how long the 4 still ran after it was sent. */
async function lateArrival(server: Server) {
  let runningEndedAt = 0;
  const running = round(server, 4, 600).then(() => (runningEndedAt = performance.now()));
  await sleep(100);
  const sentAt = performance.now();
  const late = await stream(server, sentAt, 8);
  await running;
  return { ttftMs: late.ttftMs, runningLeftMs: runningEndedAt - sentAt };
}

async function main(): Promise<void> {
  assertTinyModel();
  if (!fs.existsSync(beforeCli)) throw new Error(`${beforeCli} is missing: build the "before" version there first`);
  const servers = [await startServer('before (build)', [beforeCli]), await startServer('after (sources)', ['--import', 'tsx', afterCli])];
  try {
    // Loads the model and touches every sequence, so later requests land on used ones (as in scaling.ts).
    for (const server of servers) for (const count of [1, 16]) await round(server, count, 8);
    const results = new Map(servers.map((s) => [s.name, { ttfts: [] as number[], tokPerS: [] as number[], late: [] as { ttftMs: number; runningLeftMs: number }[] }]));
    for (let r = 0; r < rounds; r++) {
      for (const server of r % 2 === 0 ? servers : [...servers].reverse()) {
        const outcome = await round(server, streams);
        results.get(server.name)!.ttfts.push(...outcome.ttfts);
        results.get(server.name)!.tokPerS.push(outcome.tokPerS);
      }
      process.stderr.write(`[ttft] round ${r + 1}/${rounds} done\n`);
    }
    for (let trial = 0; trial < 3; trial++) {
      for (const server of trial % 2 === 0 ? servers : [...servers].reverse()) results.get(server.name)!.late.push(await lateArrival(server));
    }
    const ms = (value: number) => value.toFixed(0);
    const rows = [...results].map(([name, r]) => [
      name,
      `${ms(percentile(r.ttfts, 0.5))} / ${ms(percentile(r.ttfts, 0.99))}`,
      median(r.tokPerS).toFixed(0),
      r.late.map((l) => ms(l.ttftMs)).join(', '),
      r.late.map((l) => ms(l.runningLeftMs)).join(', '),
    ]);
    process.stdout.write(
      `\nllmsvc on the tiny model, ${streams} streams × ${maxTokens} tokens, ${rounds} rounds each, alternated (${os.loadavg()[0]!.toFixed(1)} load average at the end)\n\n` +
        textTable(['llmsvc', `TTFT p50 / p99 ms (${streams} streams)`, 'aggregate tok/s (median)', 'late request TTFT ms', 'running streams had left ms'], rows) +
        '\n',
    );
  } finally {
    for (const server of servers) await server.stop();
  }
}

await runBenchmark('ttft-before-after', main);
