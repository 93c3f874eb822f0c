// The foundation benchmark (issue 2): decode speed through llmsvc's HTTP API against node-llama-cpp
// called directly, the threads default, start-up time and idle memory. Every figure has a peer
// measured in the same run; see README.md.
//
//   node --import tsx bench/foundation.ts [--quick]
import path from 'node:path';
import {
  getLlama,
  LlamaChat,
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
} from 'node-llama-cpp';
import OpenAI from 'openai';
import type { SynthPreset } from '../models/synth/index.js';
import {
  assertBuilt,
  assertTinyModel,
  bareNodeRss,
  benchLogger,
  cleanUp,
  runBenchmark,
  ensureSynthModel,
  machineInfo,
  markdownTable,
  ownCpuMsSince,
  processCpuMs,
  projectRoot,
  resultsFile,
  rssMB,
  sleep,
  startServe,
  summarize,
  testModelsDir,
  sum,
  textTable,
  timeNodeRun,
  tinyModelId,
  tinyModelPath,
  waitReady,
  writeResultsSection,
  type Summary,
} from './support.js';

const quick = process.argv.includes('--quick');
const sectionHeading = 'Foundation (issue 2)';

// The same request on both paths: greedy decoding, so both generate the same tokens.
const prompt = 'Write a long story about a lighthouse keeper and the ships she guides home.';
const seed = 42;

// ---------------------------------------------------------------------------------------------
// One decode run, timed the same way on both paths

interface DecodeRun {
  tokens: number;
  ttftMs: number;
  tokensPerSecond: number;
}

/** tokens/s over the first-to-last-token window. That window holds tokens − 1 decode steps (the
 *  first token's own decode is in the time to first token), so that is the count divided by it. */
function decodeRun(tokens: number, requestedAt: number, firstAt: number | undefined, lastAt: number | undefined): DecodeRun {
  if (firstAt === undefined || lastAt === undefined || tokens < 2 || lastAt <= firstAt) {
    throw new Error(`too few tokens to time a decode (${tokens})`);
  }
  return { tokens, ttftMs: firstAt - requestedAt, tokensPerSecond: (tokens - 1) / ((lastAt - firstAt) / 1000) };
}

/** One streamed chat completion through llmsvc, as any OpenAI client sends it. */
async function httpDecode(client: OpenAI, model: string, maxTokens: number): Promise<DecodeRun> {
  const requestedAt = performance.now();
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: prompt }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: maxTokens,
    temperature: 0,
    seed,
  });
  let firstAt: number | undefined;
  let lastAt: number | undefined;
  let tokens = 0;
  for await (const chunk of stream) {
    const now = performance.now();
    if (chunk.choices[0]?.delta?.content) {
      firstAt ??= now;
      lastAt = now;
    }
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  return decodeRun(tokens, requestedAt, firstAt, lastAt);
}

/** node-llama-cpp in this process, set up as llmsvc sets up a request: the model's chat wrapper,
 *  a sequence kept between runs, a LlamaChat per run, OpenAI's sampling defaults made explicit. */
class DirectGenerator {
  private readonly chatWrapper: ChatWrapper;
  private readonly history: ChatHistoryItem[] = [
    { type: 'user', text: prompt },
    { type: 'model', response: [] },
  ];

  private constructor(
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    model: LlamaModel,
  ) {
    this.chatWrapper = resolveChatWrapper(model);
  }

  static async create(model: LlamaModel, threads: number): Promise<DirectGenerator> {
    const context = await model.createContext({ contextSize: Math.min(4096, model.trainContextSize), sequences: 1, threads });
    return new DirectGenerator(context, context.getSequence(), model);
  }

  async run(maxTokens: number): Promise<DecodeRun> {
    const requestedAt = performance.now();
    const chat = new LlamaChat({ contextSequence: this.sequence, chatWrapper: this.chatWrapper, autoDisposeSequence: false });
    let firstAt: number | undefined;
    let lastAt: number | undefined;
    let tokens = 0;
    try {
      await chat.generateResponse(this.history, {
        temperature: 0,
        topP: 1,
        seed,
        repeatPenalty: false,
        maxTokens,
        onToken: (chunk) => {
          const now = performance.now();
          firstAt ??= now;
          lastAt = now;
          tokens += chunk.length;
        },
      });
    } finally {
      chat.dispose({ disposeSequence: false });
    }
    return decodeRun(tokens, requestedAt, firstAt, lastAt);
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Decode: llmsvc over HTTP vs node-llama-cpp directly

interface DecodeCase {
  label: string;
  modelId: string;
  modelPath: string;
  /** What `serve --models-dir` gets: a folder holding this model. */
  modelsDir: string;
  maxTokens: number;
  repetitions: number;
}

interface PathFigures {
  tokensPerSecond: Summary;
  ttftMs: Summary;
  tokens: number[];
}

interface DecodeComparison {
  case: DecodeCase;
  http: PathFigures;
  direct: PathFigures;
  /** HTTP tok/s ÷ direct tok/s of each back-to-back pair of runs. */
  pairRatios: Summary;
  /** CPU ms per generated token: the serve process, the benchmark process as the HTTP client,
   *  and the benchmark process decoding directly. */
  cpuPerToken: { serve: number; client: number; direct: number };
}

async function decodeCases(): Promise<DecodeCase[]> {
  assertTinyModel();
  const tiny: DecodeCase = {
    label: 'tiny (llama-2-tiny-random)',
    modelId: tinyModelId,
    modelPath: tinyModelPath,
    modelsDir: testModelsDir,
    maxTokens: 256,
    // A run takes ~0.3 s and single runs spread by ±15% on this machine, so many pairs are cheap.
    repetitions: 15,
  };
  const synth = async (preset: SynthPreset, label: string, maxTokens: number, repetitions: number): Promise<DecodeCase> => {
    const modelPath = await ensureSynthModel(preset, log);
    return { label, modelId: path.basename(modelPath, '.gguf'), modelPath, modelsDir: path.dirname(modelPath), maxTokens, repetitions };
  };
  const cases = [tiny, await synth('small', 'small (synth, 135M shape, q8_0)', 64, 5)];
  // ~10 s a run on 2 cores: 5 pairs plus the warm-ups is two of the five minutes of a full run.
  if (!quick) cases.push(await synth('1b', '1b (synth, TinyLlama-1.1B shape, q8_0)', 64, 5));
  return cases;
}

async function compareDecode(llama: Llama, decodeCase: DecodeCase): Promise<DecodeComparison> {
  log(`decode: ${decodeCase.label}, ${decodeCase.maxTokens} tokens, ${decodeCase.repetitions} repetitions`);
  const serve = await startServe({ modelsDir: decodeCase.modelsDir, threads: 1 });
  let model: LlamaModel | undefined;
  try {
    model = await llama.loadModel({ modelPath: decodeCase.modelPath });
    const direct = await DirectGenerator.create(model, 1);
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: serve.apiKey, maxRetries: 0 });
    // Warm-up: the server loads the model on its first request; both fill their caches.
    await httpDecode(client, decodeCase.modelId, decodeCase.maxTokens);
    await direct.run(decodeCase.maxTokens);

    const http: DecodeRun[] = [];
    const directRuns: DecodeRun[] = [];
    let clientCpuMs = 0;
    let directCpuMs = 0;
    const runHttp = async () => {
      const cpu = process.cpuUsage();
      http.push(await httpDecode(client, decodeCase.modelId, decodeCase.maxTokens));
      clientCpuMs += ownCpuMsSince(cpu);
    };
    const runDirect = async () => {
      const cpu = process.cpuUsage();
      directRuns.push(await direct.run(decodeCase.maxTokens));
      directCpuMs += ownCpuMsSince(cpu);
    };
    // The server idles while the direct path runs, so its CPU over the whole loop is its HTTP cost.
    const serveCpuBefore = processCpuMs(serve.pid);
    for (let i = 0; i < decodeCase.repetitions; i++) {
      // Alternate which goes first, so that a slow stretch of the machine hits both.
      if (i % 2 === 0) {
        await runHttp();
        await runDirect();
      } else {
        await runDirect();
        await runHttp();
      }
    }
    const serveCpuMs = processCpuMs(serve.pid) - serveCpuBefore;
    await direct.dispose();
    const httpTokens = sum(http.map((run) => run.tokens));
    const directTokens = sum(directRuns.map((run) => run.tokens));
    return {
      case: decodeCase,
      http: summarizeRuns(http),
      direct: summarizeRuns(directRuns),
      pairRatios: summarize(http.map((run, i) => run.tokensPerSecond / directRuns[i]!.tokensPerSecond)),
      cpuPerToken: { serve: serveCpuMs / httpTokens, client: clientCpuMs / httpTokens, direct: directCpuMs / directTokens },
    };
  } finally {
    await serve.stop();
    await model?.dispose();
  }
}

function summarizeRuns(runs: DecodeRun[]): PathFigures {
  return {
    tokensPerSecond: summarize(runs.map((run) => run.tokensPerSecond)),
    ttftMs: summarize(runs.map((run) => run.ttftMs)),
    tokens: runs.map((run) => run.tokens),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Threads: why the default is cores − 1

interface ThreadsComparison {
  maxTokens: number;
  oneThread: Summary;
  twoThreads: Summary;
}

async function compareThreads(llama: Llama): Promise<ThreadsComparison> {
  // Fewer tokens than the decode figure: with 2 threads on 2 cores a run is ~10× slower.
  const maxTokens = 128;
  const repetitions = 3;
  log(`threads: direct decode on the tiny model, threads=1 vs threads=2, ${maxTokens} tokens`);
  const model = await llama.loadModel({ modelPath: tinyModelPath });
  try {
    const one = await DirectGenerator.create(model, 1);
    const two = await DirectGenerator.create(model, 2);
    await one.run(maxTokens);
    await two.run(maxTokens);
    const oneThread: number[] = [];
    const twoThreads: number[] = [];
    const runOne = async () => oneThread.push((await one.run(maxTokens)).tokensPerSecond);
    const runTwo = async () => twoThreads.push((await two.run(maxTokens)).tokensPerSecond);
    for (let i = 0; i < repetitions; i++) {
      if (i % 2 === 0) await runOne().then(runTwo);
      else await runTwo().then(runOne);
    }
    return { maxTokens, oneThread: summarize(oneThread), twoThreads: summarize(twoThreads) };
  } finally {
    await model.dispose(); // disposes its contexts too
  }
}

// ---------------------------------------------------------------------------------------------
// 3 and 4. Start-up time and resident memory, against bare node processes

interface StartupComparison {
  toUrlMs: Summary;
  toReadyMs: Summary;
  bareNodeMs: Summary;
  idleRssMB: Summary;
  afterRequestRssMB: Summary;
  bareNodeRssMB: Summary;
}

// RSS is read after this pause, once start-up work (lazy requires, JIT, GC) has had time to settle.
const rssSettleMs = 500;

interface ServeStartSample {
  toUrlMs: number;
  toReadyMs: number;
  idleRssMB: number;
  afterRequestRssMB: number;
}

/** One cold start of `llmsvc serve` on the shared test models: timings, RSS idle (no model loaded
 *  yet) and RSS after the tiny model served one streamed request. */
async function serveStartSample(): Promise<ServeStartSample> {
  const serve = await startServe({ modelsDir: testModelsDir, threads: 1 });
  try {
    const readyAt = await waitReady(serve.url);
    await sleep(rssSettleMs);
    const idleRssMB = rssMB(serve.pid);
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: serve.apiKey, maxRetries: 0 });
    await httpDecode(client, tinyModelId, 256);
    await sleep(rssSettleMs);
    return {
      toUrlMs: serve.listeningAt - serve.spawnedAt,
      toReadyMs: readyAt - serve.spawnedAt,
      idleRssMB,
      afterRequestRssMB: rssMB(serve.pid),
    };
  } finally {
    await serve.stop();
  }
}

async function compareStartup(): Promise<StartupComparison> {
  const samples = 3;
  log(`start-up and RSS: llmsvc serve vs bare node, ${samples} cold starts each`);
  const serve: ServeStartSample[] = [];
  const bareMs: number[] = [];
  const bareRss: number[] = [];
  for (let i = 0; i < samples; i++) {
    bareMs.push(await timeNodeRun(['-e', '']));
    serve.push(await serveStartSample());
    bareRss.push(await bareNodeRss(rssSettleMs * 2));
  }
  return {
    toUrlMs: summarize(serve.map((s) => s.toUrlMs)),
    toReadyMs: summarize(serve.map((s) => s.toReadyMs)),
    bareNodeMs: summarize(bareMs),
    idleRssMB: summarize(serve.map((s) => s.idleRssMB)),
    afterRequestRssMB: summarize(serve.map((s) => s.afterRequestRssMB)),
    bareNodeRssMB: summarize(bareRss),
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Results {
  decode: DecodeComparison[];
  threads: ThreadsComparison;
  startup: StartupComparison;
}

const header = ['figure', 'llmsvc', 'peer (same run)', 'ratio', 'target', 'verdict'];

function fmt(value: number, unit = ''): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit}`;
}

/** median (min–max) */
function spread(summary: Summary, unit = ''): string {
  return `${fmt(summary.median, unit)} (${fmt(summary.min)}–${fmt(summary.max)})`;
}

function verdict(met: boolean): string {
  return met ? 'met' : '**not met**';
}

function tableRows(results: Results): string[][] {
  const rows: string[][] = [];
  for (const { case: c, http, direct, pairRatios } of results.decode) {
    rows.push([
      `decode tok/s, ${c.label}, ${c.maxTokens} tokens, HTTP vs direct`,
      spread(http.tokensPerSecond),
      spread(direct.tokensPerSecond),
      `${pairRatios.median.toFixed(3)}× (${pairRatios.min.toFixed(2)}–${pairRatios.max.toFixed(2)})`,
      '≥ 0.95×',
      verdict(pairRatios.median >= 0.95),
    ]);
    rows.push([
      `time to first token, ${c.label}, HTTP vs direct`,
      spread(http.ttftMs, ' ms'),
      spread(direct.ttftMs, ' ms'),
      `${(http.ttftMs.median / direct.ttftMs.median).toFixed(2)}×`,
      '—',
      'info',
    ]);
  }
  const { threads } = results;
  rows.push([
    `direct decode tok/s, tiny, ${threads.maxTokens} tokens: threads=1 (default on 2 cores) vs threads=2`,
    spread(threads.oneThread),
    spread(threads.twoThreads),
    `${(threads.oneThread.median / threads.twoThreads.median).toFixed(1)}×`,
    '—',
    'info',
  ]);
  const { startup } = results;
  rows.push([
    'start → `listening on` line vs bare `node -e ""` start+exit',
    spread(startup.toUrlMs, ' ms'),
    spread(startup.bareNodeMs, ' ms'),
    `${(startup.toUrlMs.median / startup.bareNodeMs.median).toFixed(1)}×`,
    '—',
    'info',
  ]);
  rows.push([
    'start → `GET /readyz` 200 vs bare `node -e ""`',
    spread(startup.toReadyMs, ' ms'),
    spread(startup.bareNodeMs, ' ms'),
    `${(startup.toReadyMs.median / startup.bareNodeMs.median).toFixed(1)}×`,
    '≤ 1000 ms',
    verdict(startup.toReadyMs.median <= 1000),
  ]);
  rows.push([
    'RSS idle (ready, no model loaded) vs idle bare node',
    spread(startup.idleRssMB, ' MB'),
    spread(startup.bareNodeRssMB, ' MB'),
    `${(startup.idleRssMB.median / startup.bareNodeRssMB.median).toFixed(2)}×`,
    '≤ 120 MB',
    verdict(startup.idleRssMB.median <= 120),
  ]);
  rows.push([
    'RSS after the tiny model served one request vs idle bare node',
    spread(startup.afterRequestRssMB, ' MB'),
    spread(startup.bareNodeRssMB, ' MB'),
    `${(startup.afterRequestRssMB.median / startup.bareNodeRssMB.median).toFixed(2)}×`,
    '—',
    'info',
  ]);
  return rows;
}

const cpuHeader = ['model', 'decode ms/token HTTP', 'decode ms/token direct', 'CPU ms/token: serve process', 'CPU ms/token: direct', 'CPU ms/token: client (openai SDK)'];

/** Where the time goes: per generated token, wall time on each path and the CPU each process spent. */
function cpuRows(results: Results): string[][] {
  return results.decode.map(({ case: c, http, direct, cpuPerToken }) => [
    c.label,
    fmt(1000 / http.tokensPerSecond.median),
    fmt(1000 / direct.tokensPerSecond.median),
    fmt(cpuPerToken.serve),
    fmt(cpuPerToken.direct),
    fmt(cpuPerToken.client),
  ]);
}

/** Tokens differ between the paths only if they did not decode the same thing; worth knowing. */
function tokenCountNotes(results: Results): string[] {
  return results.decode.flatMap(({ case: c, http, direct }) => {
    const counts = new Set([...http.tokens, ...direct.tokens]);
    if (counts.size === 1) return [`${c.label}: every run generated ${[...counts][0]} tokens on both paths.`];
    return [`${c.label}: token counts differ — HTTP ${http.tokens.join(', ')}; direct ${direct.tokens.join(', ')}.`];
  });
}

function resultsSection(results: Results, date: string, command: string, seconds: number): string {
  const machine = machineInfo();
  return [
    `## ${sectionHeading} — ${date}`,
    '',
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, ${machine.os}`,
    `- Node ${machine.node}, node-llama-cpp ${machine.nodeLlamaCpp} (CPU, prebuilt binary)`,
    `- Date: ${date}; the run took ${seconds.toFixed(0)} s`,
    `- Command: \`${command}\`${quick ? ' (quick mode: tiny and small models only)' : ''}`,
    '',
    markdownTable(header, tableRows(results)),
    '',
    'Cells are median (min–max). Where the decode time goes, per generated token (medians of the runs above;',
    'CPU is user + system time of all threads of the process over all the measured runs):',
    '',
    markdownTable(cpuHeader, cpuRows(results)),
    '',
    'How each figure is taken:',
    '',
    '- **Decode**: one stream, greedy (`temperature: 0`, fixed `seed`), the same chat prompt and `max_tokens`. HTTP: a',
    '  `llmsvc serve --threads 1` child process (default `parallel` 4) driven by the `openai` SDK with `stream: true`;',
    '  tokens from `stream_options.include_usage`, timed from the first to the last content chunk received.',
    "  Direct: node-llama-cpp in the benchmark process (`LlamaChat`, the model's chat wrapper, one sequence,",
    '  `threads: 1`), timed from the first to the last `onToken`. tok/s = (tokens − 1) / that window, as the window',
    '  spans tokens − 1 decode steps. One warm-up each, then back-to-back HTTP/direct pairs, alternating which goes',
    '  first; the ratio is the median of the per-pair ratios (min–max in brackets), which cancels the slow drift of',
    '  this machine better than a ratio of medians. The HTTP client runs on the same 2 cores as the server.',
    '- **Threads**: the direct path on the tiny model with two contexts, `threads: 1` and `threads: 2`, alternated.',
    '- **Start-up**: ms from `spawn` to the `llmsvc listening on` stdout line and to the first 200 from',
    '  `GET /readyz` (polled every 20 ms); the floor is a bare `node -e ""` from spawn to exit. 3 cold starts.',
    `- **RSS**: VmRSS from /proc/<pid>/status, ${rssSettleMs} ms after ready, and again ${rssSettleMs} ms after one streamed`,
    '  256-token request to the tiny model; the peer is `node -e "setTimeout(() => {}, 1e9)"` read the same way. MB = 10⁶ bytes.',
    '',
    ...tokenCountNotes(results).map((note) => `- ${note}`),
    '',
  ].join('\n');
}

const log = benchLogger('foundation');

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  assertBuilt();
  const startedAt = performance.now();
  const command = `node --import tsx bench/foundation.ts${quick ? ' --quick' : ''}`;
  const llama = await getLlama({ gpu: false, build: 'never' });
  try {
    const decode: DecodeComparison[] = [];
    for (const decodeCase of await decodeCases()) decode.push(await compareDecode(llama, decodeCase));
    const threads = await compareThreads(llama);
    const startup = await compareStartup();
    const results: Results = { decode, threads, startup };
    const date = new Date().toISOString();
    const seconds = (performance.now() - startedAt) / 1000;
    const tables = [textTable(header, tableRows(results)), textTable(cpuHeader, cpuRows(results)), tokenCountNotes(results).join('\n')];
    process.stdout.write(`\n${tables.join('\n\n')}\n`);
    writeResultsSection(sectionHeading, resultsSection(results, date, command, seconds));
    log(`wrote ${path.relative(projectRoot, resultsFile)}; the run took ${seconds.toFixed(0)} s`);
  } finally {
    await cleanUp();
    await llama.dispose();
  }
}

await runBenchmark('foundation', main);

