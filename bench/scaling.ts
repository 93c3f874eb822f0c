// The scaling benchmark (issue 3): aggregate decode speed and time to first token at 1–16
// concurrent streams through llmsvc's HTTP API, against node-llama-cpp called directly and
// against llama-server built from the same llama.cpp release; the server's event-loop delay
// while 16 streams decode; prompt reuse across chat turns; failed requests. Every figure has a
// peer measured in the same run; see README.md.
//
//   node --import tsx bench/scaling.ts [--quick]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { getLlama, LlamaCompletion, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import OpenAI from 'openai';
import type { SynthPreset } from '../models/synth/index.js';
import { cmakeArgs, ensureLlamaServer, startLlamaServer, type LlamaServerBuild, type LlamaServerProcess } from './llamaServer.js';
import {
  assertBuilt,
  assertTinyModel,
  benchLogger,
  cleanUp,
  runBenchmark,
  ensureSynthModel,
  machineInfo,
  markdownTable,
  median,
  ownCpuMsSince,
  percentile,
  processCpuMs,
  projectRoot,
  resultsFile,
  sleep,
  startServe,
  sum,
  testModelsDir,
  textTable,
  tinyModelId,
  tinyModelPath,
  waitReady,
  writeResultsSection,
  type ServeProcess,
} from './support.js';

const quick = process.argv.includes('--quick');
const sectionHeading = 'Scaling (issue 3)';
const seed = 42;
/** Sequences (slots) on every path, and the context each one holds. */
const slots = 16;
const contextPerSequence = 1024;
const threads = 1;

// ---------------------------------------------------------------------------------------------
// Cases

interface ModelCase {
  key: 'tiny' | SynthPreset;
  label: string;
  modelId: string;
  modelPath: string;
  modelsDir: string;
  levels: number[];
  maxTokens: number;
  repetitions: number;
  /** Seconds the 16-stream event-loop run should last (its max_tokens follow from the measured speed). */
  eventLoopSeconds: number;
  /** Conversations of the prompt-reuse figure (0: skipped on this model). */
  reuseConversations: number;
  reuseSystemTokens: number;
}

async function modelCases(): Promise<ModelCase[]> {
  assertTinyModel();
  const levels = quick ? [1, 4, 16] : [1, 4, 8, 16];
  const cases: ModelCase[] = [
    {
      key: 'tiny',
      label: 'tiny (llama-2-tiny-random)',
      modelId: tinyModelId,
      modelPath: tinyModelPath,
      modelsDir: testModelsDir,
      levels,
      maxTokens: 128,
      repetitions: quick ? 3 : 5,
      eventLoopSeconds: quick ? 3 : 5,
      reuseConversations: quick ? 3 : 5,
      reuseSystemTokens: 600,
    },
  ];
  if (!quick) {
    const modelPath = await ensureSynthModel('small', log);
    cases.push({
      key: 'small',
      label: 'small (synth, 135M shape, q8_0)',
      modelId: path.basename(modelPath, '.gguf'),
      modelPath,
      modelsDir: path.dirname(modelPath),
      levels,
      maxTokens: 32,
      repetitions: 3,
      eventLoopSeconds: 5,
      reuseConversations: 3,
      reuseSystemTokens: 600,
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Prompts: identical token arrays on every path, unique per round so that no path finds the
// previous round's prompt cached.

const topics = [
  'a lighthouse keeper and the ships she guides home',
  'a clockmaker who repairs time itself',
  'two rival bakers in a mountain village',
  'a cartographer mapping an island that moves',
  'a robot learning to paint the sea',
  'the last librarian of a sunken city',
  'a courier crossing a desert by night',
  'a gardener who grows weather',
  'an astronomer who finds a new colour',
  'a ferry captain on a river of fog',
  'a beekeeper and the queen who speaks',
  'a violinist who plays to glaciers',
  'a detective in a city of mirrors',
  'a shepherd counting falling stars',
  'a potter whose bowls hold memories',
  'a pilot lost above an endless forest',
];

let promptCounter = 0;

/** `count` prompts as token arrays: BOS (where the model wants one, as llmsvc adds it) and the
 *  text, tokenized as llmsvc tokenizes a completion prompt. */
function makePrompts(model: LlamaModel, count: number): Token[][] {
  return Array.from({ length: count }, (_, i) => {
    const id = String(++promptCounter).padStart(5, '0');
    const text = `Request ${id}. Write a long story about ${topics[i % topics.length]}.`;
    const tokens = model.tokenize(text, false, 'trimLeadingSpace');
    const bos = model.tokens.bos;
    return model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens;
  });
}

// ---------------------------------------------------------------------------------------------
// The three paths, each running N streams at once

type PathName = 'llmsvc' | 'direct' | 'llama-server';
const pathNames: PathName[] = ['llmsvc', 'direct', 'llama-server'];

interface StreamOutcome {
  /** ms from the round's start to the first non-empty text. */
  ttftMs?: number;
  tokens: number;
  promptTokens?: number;
  /** llama-server only: its `timings.predicted_per_token_ms`, i.e. the decode step time while this stream generated. */
  stepMs?: number;
  error?: string;
}

/** One llama_decode call of the direct path: tokens in the batch and ms it took. */
interface DecodeCall {
  tokens: number;
  ms: number;
}

interface Runner {
  name: PathName;
  /** The server process, whose CPU is read around each round (none for the direct path). */
  pid?: number;
  /** Runs one stream per prompt at once; the direct path puts stream i on sequence `firstSequence + i`. */
  run(prompts: Token[][], maxTokens: number, firstSequence?: number): Promise<StreamOutcome[]>;
  /** The direct path: llama_decode calls since the last call of this (see DirectRunner). */
  takeDecodeCalls?(): DecodeCall[];
}

function describeError(error: unknown): string {
  if (error instanceof OpenAI.APIError) return `HTTP ${error.status ?? '?'}: ${error.message}`;
  return (error as Error).message ?? String(error);
}

/** One streamed completion, as an OpenAI client sends it; any non-2xx, thrown error or stream
 *  that ends without its finish reason and usage is a failure. */
async function httpCompletion(client: OpenAI, model: string, prompt: Token[], maxTokens: number, startedAt: number): Promise<StreamOutcome> {
  let firstAt: number | undefined;
  let finishReason: string | undefined;
  let usage: { completion_tokens: number; prompt_tokens: number } | undefined;
  let stepMs: number | undefined;
  try {
    const stream = await client.completions.create({
      model,
      prompt: prompt as number[],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: maxTokens,
      temperature: 0,
      seed,
    });
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.text) firstAt ??= performance.now();
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
      // llama-server adds its own timings to the last chunk.
      const timings = (chunk as { timings?: { predicted_per_token_ms?: number; predicted_n?: number } }).timings;
      if (timings?.predicted_per_token_ms && (timings.predicted_n ?? 0) > 1) stepMs = timings.predicted_per_token_ms;
    }
  } catch (error) {
    return { tokens: 0, error: describeError(error) };
  }
  if (!finishReason) return { tokens: 0, error: 'the stream ended without a finish_reason' };
  if (!usage) return { tokens: 0, error: 'the stream ended without usage' };
  if (firstAt === undefined) return { tokens: usage.completion_tokens, error: 'the stream carried no text' };
  return { ttftMs: firstAt - startedAt, tokens: usage.completion_tokens, promptTokens: usage.prompt_tokens, stepMs };
}

function httpRunner(name: PathName, baseURL: string, apiKey: string, model: string, pid: number): Runner & { client: OpenAI } {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 600_000 });
  return {
    name,
    pid,
    client,
    run: (prompts, maxTokens) => {
      const startedAt = performance.now();
      return Promise.all(prompts.map((prompt) => httpCompletion(client, model, prompt, maxTokens, startedAt)));
    },
  };
}

/** node-llama-cpp in this process, set up as llmsvc sets up a completion: one context of 16
 *  sequences, `threads: 1`, a LlamaCompletion per generation with the same options. */
class DirectRunner implements Runner {
  readonly name = 'direct';

  private decodeCalls: DecodeCall[] = [];

  private constructor(
    readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequences: LlamaContextSequence[],
  ) {
    this.timeDecodeCalls();
  }

  static async create(llama: Llama, modelPath: string): Promise<DirectRunner> {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize: Math.min(contextPerSequence, model.trainContextSize), sequences: slots, threads });
    const sequences = Array.from({ length: slots }, () => context.getSequence());
    return new DirectRunner(model, context, sequences);
  }

  /** A diagnostic that reaches into node-llama-cpp's internals (3.21.1): its context's native
   *  handle `_ctx` gets `initBatch(n)` then `decodeBatch()` (one llama_decode) for every batch, so
   *  wrapping the handle times each llama_decode and counts its tokens. Skipped if the shape differs. */
  private timeDecodeCalls(): void {
    type NativeContext = { initBatch(tokens: number): void; decodeBatch(): Promise<void> };
    const internal = this.context as unknown as { _ctx?: NativeContext };
    const target = internal._ctx;
    if (!target || typeof target.initBatch !== 'function' || typeof target.decodeBatch !== 'function') return;
    const calls = () => this.decodeCalls;
    let batchTokens = 0;
    internal._ctx = new Proxy(target, {
      get(native, property) {
        if (property === 'initBatch') {
          return (tokens: number) => {
            batchTokens = tokens;
            native.initBatch(tokens);
          };
        }
        if (property === 'decodeBatch') {
          return async () => {
            const started = performance.now();
            await native.decodeBatch();
            calls().push({ tokens: batchTokens, ms: performance.now() - started });
          };
        }
        const value: unknown = Reflect.get(native, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(native) : value;
      },
    });
  }

  takeDecodeCalls(): DecodeCall[] {
    const calls = this.decodeCalls;
    this.decodeCalls = [];
    return calls;
  }

  run(prompts: Token[][], maxTokens: number, firstSequence = 0): Promise<StreamOutcome[]> {
    const startedAt = performance.now();
    return Promise.all(prompts.map((prompt, i) => this.generate(this.sequences[firstSequence + i]!, prompt, maxTokens, startedAt)));
  }

  private async generate(sequence: LlamaContextSequence, prompt: Token[], maxTokens: number, startedAt: number): Promise<StreamOutcome> {
    const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
    let firstAt: number | undefined;
    let tokens = 0;
    try {
      await completion.generateCompletionWithMeta(prompt, {
        temperature: 0,
        topP: 1,
        seed,
        repeatPenalty: false,
        maxTokens,
        contextShiftSize: 0,
        disableContextShift: true,
        onTextChunk: (text) => {
          if (text) firstAt ??= performance.now();
        },
        onToken: (chunk) => (tokens += chunk.length),
      });
    } catch (error) {
      return { tokens, error: describeError(error) };
    } finally {
      completion.dispose({ disposeSequence: false });
    }
    if (firstAt === undefined) return { tokens, error: 'no text generated' };
    return { ttftMs: firstAt - startedAt, tokens, promptTokens: prompt.length };
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Rounds: N streams on one path, timed from the first request sent to the last stream finished

interface Round {
  path: PathName;
  streams: number;
  wallMs: number;
  tokens: number;
  ttfts: number[];
  promptTokens: number[];
  failures: string[];
  /** CPU ms over the round: the server process, and this process (client, or the decode itself). */
  serverCpuMs: number;
  ownCpuMs: number;
  /** Direct path: its llama_decode calls; llama-server: each stream's decode step time. */
  decodeCalls: DecodeCall[];
  stepMs: number[];
}

const aggregate = (round: Round) => round.tokens / (round.wallMs / 1000);

async function runRound(runner: Runner, prompts: Token[][], maxTokens: number): Promise<Round> {
  const serverCpuBefore = runner.pid ? processCpuMs(runner.pid) : 0;
  runner.takeDecodeCalls?.();
  const ownCpu = process.cpuUsage();
  const startedAt = performance.now();
  const outcomes = await runner.run(prompts, maxTokens);
  const wallMs = performance.now() - startedAt;
  const ownCpuMs = ownCpuMsSince(ownCpu);
  return {
    path: runner.name,
    streams: prompts.length,
    wallMs,
    tokens: sum(outcomes.map((outcome) => outcome.tokens)),
    ttfts: outcomes.flatMap((outcome) => (outcome.ttftMs === undefined ? [] : [outcome.ttftMs])),
    promptTokens: outcomes.flatMap((outcome) => (outcome.promptTokens === undefined ? [] : [outcome.promptTokens])),
    failures: outcomes.flatMap((outcome) => (outcome.error ? [outcome.error] : [])),
    serverCpuMs: runner.pid ? processCpuMs(runner.pid) - serverCpuBefore : 0,
    ownCpuMs,
    decodeCalls: runner.takeDecodeCalls?.() ?? [],
    stepMs: outcomes.flatMap((outcome) => (outcome.stepMs === undefined ? [] : [outcome.stepMs])),
  };
}

// ---------------------------------------------------------------------------------------------
// Failures, counted per path over every request of the run

const requests: Record<PathName, number> = { llmsvc: 0, direct: 0, 'llama-server': 0 };
const failures: Record<PathName, string[]> = { llmsvc: [], direct: [], 'llama-server': [] };

function count(pathName: PathName, total: number, errors: string[]): void {
  requests[pathName] += total;
  failures[pathName].push(...errors);
  for (const error of errors) log(`${pathName}: failed request: ${error}`);
}

// ---------------------------------------------------------------------------------------------
// 2. Event-loop delay of the serve process, from prom-client's gauges on /metrics

interface LagWindow {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  activeSequences: number;
}

/** Reads /metrics. prom-client's event-loop gauges describe the delays since the previous scrape
 *  (each scrape resets its histogram), so scraping at intervals samples windows of the run. */
async function scrapeLag(serve: ServeProcess): Promise<LagWindow> {
  const response = await fetch(`${serve.url}/metrics`, { headers: { authorization: `Bearer ${serve.apiKey}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text.slice(0, 200)}`);
  const gauge = (name: string) => {
    const match = new RegExp(`^llmsvc_nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (!match) throw new Error(`no llmsvc_nodejs_eventloop_lag_${name}_seconds in /metrics`);
    return Number(match[1]) * 1000;
  };
  const active = [...text.matchAll(/^llmsvc_active_sequences\{[^}]*\} (\S+)$/gm)].map((match) => Number(match[1]));
  return { p50: gauge('p50'), p99: gauge('p99'), max: gauge('max'), mean: gauge('mean'), activeSequences: Math.max(0, ...active) };
}

const lagWindowMs = 500;

interface EventLoopFigures {
  idle: LagWindow[];
  busy: LagWindow[];
  maxTokens: number;
  busyRound: Round;
}

async function measureEventLoop(serve: ServeProcess, runner: Runner, model: LlamaModel, maxTokens: number, idleWindows: number): Promise<EventLoopFigures> {
  // Idle: the same server with nothing to do, sampled in windows of the same length.
  await scrapeLag(serve);
  const idle: LagWindow[] = [];
  for (let i = 0; i < idleWindows; i++) {
    await sleep(lagWindowMs);
    idle.push(await scrapeLag(serve));
  }
  // Busy: 16 streams; a window counts when the streams were still running at its end.
  let done = false;
  const round = runRound(runner, makePrompts(model, slots), maxTokens).finally(() => (done = true));
  await scrapeLag(serve);
  const busy: LagWindow[] = [];
  for (;;) {
    await Promise.race([sleep(lagWindowMs), round]);
    if (done) break;
    busy.push(await scrapeLag(serve));
  }
  const busyRound = await round;
  count('llmsvc', busyRound.streams, busyRound.failures);
  return { idle, busy, maxTokens, busyRound };
}

// ---------------------------------------------------------------------------------------------
// A request that arrives while others decode: its time to first token. node-llama-cpp 3.21.1 holds
// the context lock for as long as its batch loop has queued decodes, and erasing a sequence's old
// tokens needs that lock, so a request that lands on a used sequence waits for the running ones.

const lateRunning = 4;
const lateDelayMs = 100;

interface LateArrival {
  /** TTFT of the late request, from its own send. */
  ttftMs: number;
  /** ms from the late request's send until the last running stream finished. */
  runningLeftMs: number;
}

async function measureLateArrival(runner: Runner, model: LlamaModel, runningMaxTokens: number): Promise<LateArrival | undefined> {
  let runningEndedAt = 0;
  const running = runner.run(makePrompts(model, lateRunning), runningMaxTokens).then((outcomes) => {
    runningEndedAt = performance.now();
    return outcomes;
  });
  await sleep(lateDelayMs);
  const lateSentAt = performance.now();
  // On the direct path the late stream takes the next sequence, which holds an earlier round's tokens
  // (as llmsvc's free sequences do after the warm-up).
  const [late] = await runner.run(makePrompts(model, 1), 8, lateRunning);
  const outcomes = await running;
  const errors = [...outcomes, late!].flatMap((outcome) => (outcome.error ? [outcome.error] : []));
  count(runner.name, lateRunning + 1, errors);
  if (errors.length > 0 || late!.ttftMs === undefined) return undefined;
  // The late outcome's TTFT counts from its own round's start, i.e. from lateSentAt.
  return { ttftMs: late!.ttftMs, runningLeftMs: runningEndedAt - lateSentAt };
}

// ---------------------------------------------------------------------------------------------
// 3. Prompt reuse: a chat's turn 2 repeats turn 1, its answer and a new question

const ruleSentences = [
  'Answer in plain language and keep every answer short.',
  'Quote the customer number exactly as it was given.',
  'Never promise a delivery date that the warehouse has not confirmed.',
  'Refunds above two hundred euros need a supervisor.',
  'Offer the repair service before a replacement.',
  'Keep a friendly tone even when the customer is upset.',
  'Ask for the order number before looking anything up.',
  'Explain each fee before the customer agrees to it.',
];

/** A system prompt of about `tokens` tokens for this model, unique to `conversation` from its
 *  first words, so that turn 1 finds nothing cached. */
function systemPrompt(model: LlamaModel, conversation: number, tokens: number): string {
  let text = `Conversation ${conversation}. You are the support assistant of a shop. Rules:`;
  for (let i = 0; model.tokenize(text).length < tokens; i++) text += ` ${i + 1}. ${ruleSentences[i % ruleSentences.length]}`;
  return text;
}

interface TurnOutcome {
  ttftMs: number;
  text: string;
  promptTokens: number;
  cachedTokens?: number;
}

async function chatTurn(client: OpenAI, model: string, messages: OpenAI.Chat.ChatCompletionMessageParam[]): Promise<TurnOutcome> {
  const startedAt = performance.now();
  let firstAt: number | undefined;
  let text = '';
  let finishReason: string | undefined;
  let usage: OpenAI.CompletionUsage | undefined;
  const stream = await client.chat.completions.create({
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 16,
    temperature: 0,
    seed,
  });
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice?.delta?.content) {
      firstAt ??= performance.now();
      text += choice.delta.content;
    }
    if (choice?.finish_reason) finishReason = choice.finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  if (!finishReason || !usage || firstAt === undefined) throw new Error(`the chat stream ended without ${!finishReason ? 'a finish_reason' : !usage ? 'usage' : 'text'}`);
  return { ttftMs: firstAt - startedAt, text, promptTokens: usage.prompt_tokens, cachedTokens: usage.prompt_tokens_details?.cached_tokens };
}

interface ReuseConversation {
  turn1: TurnOutcome;
  turn2: TurnOutcome;
}

async function conversation(runner: Runner & { client: OpenAI }, modelId: string, system: string): Promise<ReuseConversation | undefined> {
  const question1 = 'A customer asks for a refund of a broken kettle. What do you do first?';
  const question2 = 'And if the kettle cost three hundred euros?';
  try {
    const history: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: system },
      { role: 'user', content: question1 },
    ];
    const turn1 = await chatTurn(runner.client, modelId, history);
    const turn2 = await chatTurn(runner.client, modelId, [...history, { role: 'assistant', content: turn1.text }, { role: 'user', content: question2 }]);
    count(runner.name, 2, []);
    return { turn1, turn2 };
  } catch (error) {
    count(runner.name, 2, [describeError(error)]);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// One model: start the three paths, warm them up, run the levels alternated, then the rest

interface ModelResults {
  case: ModelCase;
  /** rounds[level][path] over the repetitions */
  rounds: Map<number, Record<PathName, Round[]>>;
  eventLoop?: EventLoopFigures;
  late: Partial<Record<PathName, LateArrival[]>>;
  lateRunningMaxTokens: number;
  reuse: Partial<Record<PathName, ReuseConversation[]>>;
  systemTokens: number;
  llamaServerArgs?: string[];
}

async function runModel(llama: Llama, modelCase: ModelCase, llamaServerBin: string | undefined): Promise<ModelResults> {
  log(`${modelCase.label}: starting llmsvc serve${llamaServerBin ? ', llama-server' : ''} and the direct context (${slots} sequences × ${contextPerSequence} tokens, threads ${threads})`);
  let serve: ServeProcess | undefined;
  let llamaServer: LlamaServerProcess | undefined;
  let direct: DirectRunner | undefined;
  try {
    serve = await startServe({
      modelsDir: modelCase.modelsDir,
      threads,
      extraArgs: ['--parallel', String(slots), '--context-size', String(contextPerSequence), '--log-level', 'warn'],
    });
    await waitReady(serve.url);
    if (llamaServerBin) {
      llamaServer = await startLlamaServer(llamaServerBin, modelCase.modelPath, [
        '-t', String(threads), '-tb', String(threads),
        '-np', String(slots), '-c', String(slots * contextPerSequence), '-cb',
        '--fit', 'off', '--no-ui', '--offline',
      ]);
    }
    direct = await DirectRunner.create(llama, modelCase.modelPath);
    const model = direct.model;
    const llmsvc = httpRunner('llmsvc', `${serve.url}/v1`, serve.apiKey, modelCase.modelId, serve.pid);
    const runners: Runner[] = [llmsvc, direct];
    const llamaServerRunner = llamaServer ? httpRunner('llama-server', `${llamaServer.url}/v1`, 'unused', modelCase.modelId, llamaServer.pid) : undefined;
    if (llamaServerRunner) runners.push(llamaServerRunner);

    // Warm-up: llmsvc loads the model on its first request; all fill their caches and touch every
    // sequence once. Not counted.
    for (const runner of runners) {
      for (const streams of [1, slots]) {
        const round = await runRound(runner, makePrompts(model, streams), 8);
        if (round.failures.length > 0) throw new Error(`${runner.name} failed its warm-up: ${round.failures[0]}`);
      }
    }

    const rounds = new Map<number, Record<PathName, Round[]>>(modelCase.levels.map((level) => [level, { llmsvc: [], direct: [], 'llama-server': [] }]));
    let turn = 0;
    for (let rep = 0; rep < modelCase.repetitions; rep++) {
      for (const level of modelCase.levels) {
        const prompts = makePrompts(model, level);
        // Rotate which path goes first, so that a slow stretch of the machine hits each in turn.
        const order = runners.map((_, i) => runners[(i + turn) % runners.length]!);
        turn++;
        for (const runner of order) {
          const round = await runRound(runner, prompts, modelCase.maxTokens);
          count(runner.name, round.streams, round.failures);
          rounds.get(level)![runner.name].push(round);
        }
      }
      log(`${modelCase.label}: repetition ${rep + 1}/${modelCase.repetitions} done`);
    }

    // Event-loop delay while 16 streams decode, long enough for several windows.
    const sixteen = rounds.get(slots)!.llmsvc.map(aggregate);
    const eventLoopMaxTokens = Math.max(16, Math.min(contextPerSequence - 64, Math.round((median(sixteen) * modelCase.eventLoopSeconds) / slots)));
    log(`${modelCase.label}: event-loop delay, idle and with ${slots} streams of ${eventLoopMaxTokens} tokens`);
    const eventLoop = await measureEventLoop(serve, llmsvc, model, eventLoopMaxTokens, Math.round((modelCase.eventLoopSeconds * 1000) / lagWindowMs));

    // A request arriving while 4 streams decode (~1.5 s of them), on each path, alternated.
    const four = rounds.get(4)!.llmsvc.map(aggregate);
    const lateRunningMaxTokens = Math.max(16, Math.min(contextPerSequence - 64, Math.round((median(four) * 1.5) / lateRunning)));
    log(`${modelCase.label}: a request arriving ${lateDelayMs} ms after ${lateRunning} streams of ${lateRunningMaxTokens} tokens started`);
    const late: Partial<Record<PathName, LateArrival[]>> = {};
    for (let trial = 0; trial < (quick ? 2 : 3); trial++) {
      for (const runner of runners.map((_, i) => runners[(i + trial) % runners.length]!)) {
        const result = await measureLateArrival(runner, model, lateRunningMaxTokens);
        if (result) (late[runner.name] ??= []).push(result);
      }
    }

    // Prompt reuse over HTTP chat, llmsvc and llama-server alternated.
    const reuse: Partial<Record<PathName, ReuseConversation[]>> = {};
    const chatRunners = llamaServerRunner ? [llmsvc, llamaServerRunner] : [llmsvc];
    let systemTokens = 0;
    if (modelCase.reuseConversations > 0) {
      log(`${modelCase.label}: prompt reuse, ${modelCase.reuseConversations} two-turn chats per server`);
      for (let c = 0; c < modelCase.reuseConversations; c++) {
        const system = systemPrompt(model, ++promptCounter, modelCase.reuseSystemTokens);
        systemTokens = model.tokenize(system).length;
        for (const runner of c % 2 === 0 ? chatRunners : [...chatRunners].reverse()) {
          const result = await conversation(runner, modelCase.modelId, system);
          if (result) (reuse[runner.name] ??= []).push(result);
        }
      }
    }
    return { case: modelCase, rounds, eventLoop, late, lateRunningMaxTokens, reuse, systemTokens, llamaServerArgs: llamaServer?.args };
  } catch (error) {
    if (serve) process.stderr.write(`[scaling] serve stderr tail:\n${serve.stderrTail().slice(-3000)}\n`);
    if (llamaServer) process.stderr.write(`[scaling] llama-server log tail:\n${llamaServer.stderrTail().slice(-3000)}\n`);
    throw error;
  } finally {
    await serve?.stop();
    await llamaServer?.stop();
    await direct?.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function fmt(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return '—';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit}`;
}

function spread(values: number[], unit = ''): string {
  if (values.length === 0) return '—';
  return `${fmt(median(values), unit)} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** a ÷ b as "1.23×", or — when either is missing. */
function times(a: number, b: number): string {
  const ratio = a / b;
  return Number.isFinite(ratio) ? `${fmt(ratio)}×` : '—';
}

function ratioCell(ratios: number[]): string {
  if (ratios.length === 0) return '—';
  return `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}

/** Per-repetition ratios of aggregate tok/s: rounds of the same repetition ran back to back. */
function pairRatios(a: Round[], b: Round[]): number[] {
  return a.flatMap((round, i) => (b[i] ? [aggregate(round) / aggregate(b[i]!)] : []));
}

function verdict(met: boolean): string {
  return met ? 'met' : '**not met**';
}

const throughputHeader = ['model', 'streams', 'llmsvc tok/s', 'direct tok/s', 'llama-server tok/s', 'llmsvc ÷ llama-server', 'llmsvc ÷ direct', 'direct ÷ llama-server', 'target', 'verdict'];

function throughputRows(results: ModelResults[]): string[][] {
  return results.flatMap(({ case: c, rounds }) =>
    c.levels.map((level) => {
      const r = rounds.get(level)!;
      const vsServer = pairRatios(r.llmsvc, r['llama-server']);
      const targeted = level === 1 || level === 8;
      return [
        c.key,
        String(level),
        spread(r.llmsvc.map(aggregate)),
        spread(r.direct.map(aggregate)),
        spread(r['llama-server'].map(aggregate)),
        ratioCell(vsServer),
        ratioCell(pairRatios(r.llmsvc, r.direct)),
        ratioCell(pairRatios(r.direct, r['llama-server'])),
        targeted ? '≥ 1.0× llama-server' : '—',
        targeted ? (vsServer.length > 0 ? verdict(median(vsServer) >= 1) : 'not measured') : 'info',
      ];
    }),
  );
}

const ttftHeader = ['model', 'streams', 'llmsvc p50 / p99 ms', 'direct p50 / p99 ms', 'llama-server p50 / p99 ms', 'llmsvc ÷ llama-server (p50)'];

function ttftCell(rounds: Round[]): string {
  const all = rounds.flatMap((round) => round.ttfts);
  if (all.length === 0) return '—';
  return `${fmt(percentile(all, 50))} / ${fmt(percentile(all, 99))}`;
}

function ttftRows(results: ModelResults[]): string[][] {
  return results.flatMap(({ case: c, rounds }) =>
    c.levels.map((level) => {
      const r = rounds.get(level)!;
      const p50 = (rounds: Round[]) => percentile(rounds.flatMap((round) => round.ttfts), 50);
      return [c.key, String(level), ttftCell(r.llmsvc), ttftCell(r.direct), ttftCell(r['llama-server']), r['llama-server'].length > 0 ? `${(p50(r.llmsvc) / p50(r['llama-server'])).toFixed(2)}×` : '—'];
    }),
  );
}

const cpuHeader = ['model', 'streams', 'llmsvc serve CPU ms/token', 'its client CPU ms/token', 'llama-server CPU ms/token', 'its client CPU ms/token', 'direct CPU ms/token', 'wall ms/token llmsvc / llama-server / direct'];

function cpuRows(results: ModelResults[]): string[][] {
  return results.flatMap(({ case: c, rounds }) =>
    c.levels.map((level) => {
      const r = rounds.get(level)!;
      const per = (rs: Round[], pick: (round: Round) => number) => (rs.length === 0 ? Number.NaN : sum(rs.map(pick)) / sum(rs.map((round) => round.tokens)));
      const wall = (rs: Round[]) => fmt(per(rs, (round) => round.wallMs));
      return [
        c.key,
        String(level),
        fmt(per(r.llmsvc, (round) => round.serverCpuMs)),
        fmt(per(r.llmsvc, (round) => round.ownCpuMs)),
        fmt(per(r['llama-server'], (round) => round.serverCpuMs)),
        fmt(per(r['llama-server'], (round) => round.ownCpuMs)),
        fmt(per(r.direct, (round) => round.ownCpuMs)),
        `${wall(r.llmsvc)} / ${wall(r['llama-server'])} / ${wall(r.direct)}`,
      ];
    }),
  );
}

/** Steady-state decode steps: llama_decode calls of the direct path holding at most one token per
 *  stream (prompt batches excluded), and llama-server's per-stream step time. */
function directSteps(rounds: Round[], streams: number): DecodeCall[] {
  return rounds.flatMap((round) => round.decodeCalls).filter((call) => call.tokens >= 1 && call.tokens <= streams);
}

const stepHeader = ['model', 'streams', 'direct: tokens per llama_decode', 'direct: ms per llama_decode', 'direct: step ÷ 1-stream step', 'llama-server: ms per step', 'llama-server: step ÷ 1-stream step'];

function stepRows(results: ModelResults[]): string[][] {
  return results.flatMap(({ case: c, rounds }) => {
    const directStep = (level: number) => median(directSteps(rounds.get(level)!.direct, level).map((call) => call.ms));
    const serverStep = (level: number) => median(rounds.get(level)!['llama-server'].flatMap((round) => round.stepMs));
    const base = c.levels[0]!;
    return c.levels.map((level) => {
      const steps = directSteps(rounds.get(level)!.direct, level);
      return [
        c.key,
        String(level),
        steps.length > 0 ? fmt(median(steps.map((call) => call.tokens))) : '—',
        fmt(directStep(level)),
        times(directStep(level), directStep(base)),
        fmt(serverStep(level)),
        times(serverStep(level), serverStep(base)),
      ];
    });
  });
}

/** Statements computed from this run's figures, with the causes found behind them. */
function diagnosis(results: ModelResults[]): string[] {
  const lines: string[] = [];
  for (const { case: c, rounds, late } of results) {
    const top = c.levels[c.levels.length - 1]!;
    const r = rounds.get(top)!;
    const directVsServer = pairRatios(r.direct, r['llama-server']);
    const llmsvcVsDirect = pairRatios(r.llmsvc, r.direct);
    const step = (level: number) => median(directSteps(rounds.get(level)!.direct, level).map((call) => call.ms));
    const serverStep = (level: number) => median(rounds.get(level)!['llama-server'].flatMap((round) => round.stepMs));
    if (directVsServer.length > 0) {
      lines.push(
        `${c.key}, ${top} streams: llmsvc ÷ llama-server ${median(pairRatios(r.llmsvc, r['llama-server'])).toFixed(2)}× = llmsvc ÷ direct ${median(llmsvcVsDirect).toFixed(2)}× ` +
          `(llmsvc's own cost: HTTP, SSE, scheduling) × direct ÷ llama-server ${median(directVsServer).toFixed(2)}× (node-llama-cpp vs llama.cpp's server). ` +
          `A decode step of ${top} streams costs node-llama-cpp ${fmt(step(top) / step(1))}× its 1-stream step and llama-server ${fmt(serverStep(top) / serverStep(1))}×.`,
      );
    } else {
      lines.push(`${c.key}, ${top} streams: llmsvc ÷ direct ${median(llmsvcVsDirect).toFixed(2)}×; a decode step of ${top} streams costs node-llama-cpp ${fmt(step(top) / step(1))}× its 1-stream step.`);
    }
    const lateLlmsvc = late.llmsvc ?? [];
    const lateServer = late['llama-server'] ?? [];
    if (lateLlmsvc.length > 0) {
      lines.push(
        `${c.key}: a request sent while ${lateRunning} streams decode waits ${fmt(median(lateLlmsvc.map((t) => t.ttftMs)))} ms for its first token on llmsvc` +
          ` (the running streams had ${fmt(median(lateLlmsvc.map((t) => t.runningLeftMs)))} ms left), ${fmt(median((late.direct ?? []).map((t) => t.ttftMs)))} ms on the direct path` +
          (lateServer.length > 0 ? `, ${fmt(median(lateServer.map((t) => t.ttftMs)))} ms on llama-server.` : '.'),
      );
    }
  }
  return lines;
}

const lagHeader = ['model', 'llmsvc serve', 'windows', 'active sequences (max)', 'p50 ms', 'p99 ms, median of windows', 'p99 ms, worst window', 'max ms', 'target', 'verdict'];

function lagRows(results: ModelResults[]): string[][] {
  return results.flatMap(({ case: c, eventLoop }) => {
    if (!eventLoop) return [];
    const row = (state: string, windows: LagWindow[], target: boolean): string[] => [
      c.key,
      state,
      String(windows.length),
      String(Math.max(0, ...windows.map((w) => w.activeSequences))),
      fmt(median(windows.map((w) => w.p50))),
      fmt(median(windows.map((w) => w.p99))),
      fmt(Math.max(...windows.map((w) => w.p99))),
      fmt(Math.max(...windows.map((w) => w.max))),
      target ? '≤ 20 ms' : '—',
      target ? verdict(windows.length > 0 && Math.max(...windows.map((w) => w.p99)) <= 20) : 'peer',
    ];
    return [
      row(`${slots} streams × ${eventLoop.maxTokens} tokens (${fmt(aggregate(eventLoop.busyRound))} tok/s)`, eventLoop.busy, true),
      row('idle (same server, before)', eventLoop.idle, false),
    ];
  });
}

const lateHeader = ['model', 'path', 'TTFT of the late request, ms', 'running streams had left, ms', 'late TTFT ÷ llama-server'];

function lateRows(results: ModelResults[]): string[][] {
  return results.flatMap(({ case: c, late }) => {
    const server = late['llama-server'];
    return pathNames.flatMap((name) => {
      const trials = late[name];
      if (!trials || trials.length === 0) return [];
      return [
        [
          c.key,
          name,
          spread(trials.map((t) => t.ttftMs)),
          spread(trials.map((t) => t.runningLeftMs)),
          server && server.length > 0 ? `${(median(trials.map((t) => t.ttftMs)) / median(server.map((t) => t.ttftMs))).toFixed(1)}×` : '—',
        ],
      ];
    });
  });
}

const reuseHeader = ['model', 'server', 'system prompt tokens', 'prompt tokens turn 1 → 2', 'TTFT turn 1 ms', 'TTFT turn 2 ms', 'turn 2 ÷ turn 1', 'cached tokens turn 2 (reported)'];

function reuseRows(results: ModelResults[]): string[][] {
  return results.flatMap(({ case: c, reuse, systemTokens }) =>
    (['llmsvc', 'llama-server'] as const).flatMap((name) => {
      const conversations = reuse[name];
      if (!conversations || conversations.length === 0) return [];
      const cached = conversations.map((conv) => conv.turn2.cachedTokens).filter((value): value is number => value !== undefined);
      return [
        [
          c.key,
          name,
          String(systemTokens),
          `${median(conversations.map((conv) => conv.turn1.promptTokens))} → ${median(conversations.map((conv) => conv.turn2.promptTokens))}`,
          spread(conversations.map((conv) => conv.turn1.ttftMs)),
          spread(conversations.map((conv) => conv.turn2.ttftMs)),
          ratioCell(conversations.map((conv) => conv.turn2.ttftMs / conv.turn1.ttftMs)),
          cached.length > 0 ? String(median(cached)) : 'not reported',
        ],
      ];
    }),
  );
}

const failureHeader = ['path', 'requests', 'failed', 'target', 'verdict'];

function failureRows(): string[][] {
  return pathNames
    .filter((name) => requests[name] > 0)
    .map((name) => [name, String(requests[name]), String(failures[name].length), name === 'llmsvc' ? '0' : '—', name === 'llmsvc' ? verdict(failures[name].length === 0) : 'info']);
}

/** Token counts per path and level, and prompt token counts as the servers report them: the paths
 *  did the same work only if these agree. */
function workNotes(results: ModelResults[]): string[] {
  return results.flatMap(({ case: c, rounds }) =>
    c.levels.flatMap((level) => {
      const r = rounds.get(level)!;
      const tokens = pathNames.filter((name) => r[name].length > 0).map((name) => `${name} ${sum(r[name].map((round) => round.tokens))}`);
      const prompt = pathNames
        .filter((name) => r[name].length > 0)
        .map((name) => `${name} ${sum(r[name].flatMap((round) => round.promptTokens))}`);
      const expected = c.repetitions * level * c.maxTokens;
      const allFull = pathNames.every((name) => r[name].length === 0 || sum(r[name].map((round) => round.tokens)) === expected);
      return allFull && new Set(prompt.map((entry) => entry.split(' ')[1])).size === 1
        ? []
        : [`${c.key}, ${level} streams: completion tokens ${tokens.join(', ')} (max ${expected}); prompt tokens ${prompt.join(', ')}.`];
    }),
  );
}

interface RunInfo {
  date: string;
  seconds: number;
  command: string;
  build: LlamaServerBuild;
  llamaServerArgs?: string[];
  git: string;
}

function targetSummary(results: ModelResults[]): string[] {
  const lines: string[] = [];
  for (const { case: c, rounds } of results) {
    for (const level of [1, 8]) {
      const r = rounds.get(level);
      if (!r) continue;
      const ratios = pairRatios(r.llmsvc, r['llama-server']);
      if (ratios.length === 0) {
        lines.push(`- ${c.key}, ${level} stream${level > 1 ? 's' : ''}: llmsvc vs llama-server not measured (no llama-server).`);
        continue;
      }
      lines.push(`- ${c.key}, ${level} stream${level > 1 ? 's' : ''}: llmsvc ${median(ratios).toFixed(2)}× llama-server (target ≥ 1.0×): ${verdict(median(ratios) >= 1)}.`);
    }
  }
  const failed = failures.llmsvc.length;
  lines.push(`- Failed llmsvc requests: ${failed} of ${requests.llmsvc} (target 0): ${verdict(failed === 0)}.`);
  for (const { case: c, eventLoop } of results) {
    if (!eventLoop || eventLoop.busy.length === 0) continue;
    const worst = Math.max(...eventLoop.busy.map((w) => w.p99));
    lines.push(`- Event-loop delay p99 with ${slots} streams, ${c.key}: worst window ${fmt(worst)} ms, idle ${fmt(median(eventLoop.idle.map((w) => w.p99)))} ms (target ≤ 20 ms): ${verdict(worst <= 20)}.`);
  }
  return lines;
}

function resultsSection(results: ModelResults[], info: RunInfo): string {
  const machine = machineInfo();
  const { build } = info;
  const buildLine = build.bin
    ? `built from node-llama-cpp's \`llama/gitRelease.bundle\` (release ${build.release}, commit ${build.commit.slice(0, 7)}${build.patches.length > 0 ? `, with its patch ${build.patches.join(', ')}` : ''}) into the git-ignored \`bench/.work/llama.cpp\`; cmake \`${cmakeArgs.join(' ')}\`, target \`llama-server\`${build.buildSeconds > 0 ? ` (built in this run in ${fmt(build.buildSeconds / 60)} min)` : ' (reused from an earlier run)'}`
    : `**not available: ${build.error}**`;
  const failureList = pathNames.flatMap((name) => [...new Set(failures[name])].slice(0, 5).map((error) => `- ${name}: ${error}`));
  return [
    `## ${sectionHeading} — ${info.date}`,
    '',
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, ${machine.os}`,
    `- Node ${machine.node}, node-llama-cpp ${machine.nodeLlamaCpp} (CPU, prebuilt binary); llmsvc at ${info.git}`,
    `- llama-server: ${buildLine}`,
    ...(info.llamaServerArgs ? [`- llama-server command: \`llama-server ${displayArgs(info.llamaServerArgs)}\``] : []),
    `- llmsvc command: \`llmsvc serve --threads ${threads} --parallel ${slots} --context-size ${contextPerSequence} --log-level warn\` (LLMSVC_ADMIN_KEY set; default max_queue)`,
    `- Date: ${info.date}; the run took ${info.seconds.toFixed(0)} s`,
    `- Command: \`${info.command}\`${quick ? ' (quick mode: tiny model only, 1/4/16 streams, fewer repetitions)' : ''}`,
    '- Models: the tiny test model and the synthetic `small` (135M shape, q8_0) in full mode; the synthetic `1b` is left out',
    '  because node-llama-cpp gains little from batching, so its 16-stream rounds alone would take the run past 10 minutes.',
    '',
    'Targets:',
    '',
    ...targetSummary(results),
    '',
    '### Aggregate decode tokens/s',
    '',
    markdownTable(throughputHeader, throughputRows(results)),
    '',
    'Median (min–max) over the repetitions. Aggregate tok/s = completion tokens of all streams ÷ wall time from the',
    'first request sent to the last stream finished (prompt processing included). Ratios are medians of the ratios',
    'of rounds of the same repetition (which ran back to back).',
    '',
    '### Why: decode steps, and what the ratios split into',
    '',
    markdownTable(stepHeader, stepRows(results)),
    '',
    'Direct: the median llama_decode call holding at most one token per stream (timed by wrapping node-llama-cpp\'s',
    'native context handle; prompt batches excluded). llama-server: the median `timings.predicted_per_token_ms` of its',
    'streams, i.e. its decode step while they generated. A step that batches N streams well costs far less than N×.',
    '',
    ...diagnosis(results).map((line) => `- ${line}`),
    '',
    'Causes found behind these figures (node-llama-cpp 3.21.1; reproductions in bench/README.md):',
    '',
    '- **Batched decoding splits into several llama_decode passes.** With one KV stream per sequence (llama.cpp\'s',
    '  default `kv_unified = false`, used by node-llama-cpp and by llama-server `-np 16`), llama.cpp splits a batch into',
    '  micro-batches of *consecutive, increasing* sequence ids (`llama_batch_allocr::split_equal`, "accept only',
    '  increasing sequence ids"). llama-server adds its slots in id order; node-llama-cpp adds sequences in the order',
    '  their next token was queued, so a step of 15 sequences runs as several graph passes and costs almost 15 single',
    '  steps. llmsvc\'s runtime patch (core/runtimes/llama/yieldingBatchDispatch.ts) adds them in sequence-id order;',
    '  the direct path here runs node-llama-cpp unpatched, which is why llmsvc beats it at 16 streams.',
    '- **A request that lands on a used sequence waits for the running ones.** Erasing a sequence\'s old tokens',
    '  (`_eraseContextTokenRanges`) takes the context lock, which the batch loop (`dispatchPendingBatch`) holds for as',
    '  long as any sequence has a decode queued. llmsvc keeps sequences\' tokens for prefix reuse, so once its sequences',
    '  have served requests, a request arriving while others generate waits until that loop runs dry — with the tiny',
    '  model, until the running generations end (the TTFT p99 at 8–16 streams and the late-request table below).',
    '  Requests sent in the same tick as the others, before the loop starts, are not hit. llmsvc\'s runtime patch makes',
    '  the loop hand the lock over between batches, so its late request waits one decode step (the late-request line',
    '  above: llmsvc vs the unpatched direct path).',
    '',
    '### Time to first token',
    '',
    markdownTable(ttftHeader, ttftRows(results)),
    '',
    'Over every stream of every repetition (at 1 stream the p99 is in effect the worst of the few runs); ms from the',
    "round's start (all requests sent at once) to the stream's first non-empty text.",
    '',
    `### Event-loop delay of the llmsvc server (prom-client's \`llmsvc_nodejs_eventloop_lag_*\` on /metrics)`,
    '',
    markdownTable(lagHeader, lagRows(results)),
    '',
    `/metrics was scraped every ${lagWindowMs} ms; each scrape reports the delays since the previous one (prom-client`,
    "resets its `monitorEventLoopDelay` histogram, resolution 10 ms, on every collect), so each row's windows are",
    'independent samples. Only windows that ended while the streams were still running count. The histogram records',
    'the whole interval between its 10 ms timer ticks, so an idle server reads ~10.2 ms: the delay the streams add is',
    'the difference to the idle row. These are the event loop of the thread that serves HTTP (and /metrics); llmsvc runs',
    "node-llama-cpp in its runtime thread, whose event loop prom-client's default metrics do not cover.",
    '',
    '### A request arriving while others decode',
    '',
    markdownTable(lateHeader, lateRows(results)),
    '',
    `${lateRunning} streams start (max_tokens ${results.map((r) => `${r.lateRunningMaxTokens} on ${r.case.key}`).join(', ')}: ~1.5 s of decoding); ${lateDelayMs} ms later one more`,
    'request (8 tokens) is sent; its time to first token from its own send. On the direct path it runs on a sequence that',
    "holds an earlier round's tokens, as every free sequence of llmsvc does once it has served requests.",
    '',
    '### Prompt reuse across chat turns (HTTP, streamed chat completions)',
    '',
    reuseRows(results).length > 0 ? markdownTable(reuseHeader, reuseRows(results)) : 'Not measured.',
    '',
    "Turn 1: a system prompt unique to the conversation from its first words (so nothing is cached) and a question;",
    'turn 2: the same messages, the answer of turn 1 and a new question. 16 tokens per answer, greedy. Conversations',
    'alternate between the servers. The ratio is the median of the per-conversation ratios.',
    '',
    '### Failed requests',
    '',
    markdownTable(failureHeader, failureRows()),
    ...(failureList.length > 0 ? ['', 'Distinct errors (first 5 per path):', '', ...failureList] : []),
    '',
    '### Where the time goes (CPU per generated token, summed over all repetitions)',
    '',
    markdownTable(cpuHeader, cpuRows(results)),
    '',
    'CPU is user + system time of all threads of a process over its rounds (/proc/<pid>/stat; this process with',
    '`process.cpuUsage()`); "client" is this benchmark process driving the `openai` SDK streams on the same 2 cores;',
    'the direct path decodes in this process. Wall ms/token is the inverse of the aggregate speed.',
    '',
    'How the figures are taken:',
    '',
    `- **Paths**, all on one context of ${slots} sequences × ${contextPerSequence} tokens and \`threads: ${threads}\`: (a) \`llmsvc serve\` as a child`,
    '  process, driven by the official `openai` SDK (`completions.create`, `stream: true`, `stream_options.include_usage`,',
    '  `temperature: 0`, fixed `seed` and `max_tokens`); (b) node-llama-cpp in this process, one `LlamaCompletion` per',
    '  stream on its own sequence, with the options llmsvc passes; (c) llama-server, driven by the same SDK client with',
    '  the same requests against its `/v1/completions`. llama-server applies its default sampler chain (top-k 40, top-p,',
    '  min-p …) before taking the greedy token, where node-llama-cpp goes straight to greedy; it is the same request.',
    '- **Prompts** are the same token arrays on every path (BOS + a one-line story request, ~20 tokens), unique per',
    '  round from their first words so that no path serves a prompt from its cache. Each path is warmed up (1 and 16',
    '  streams, 8 tokens) first. In each repetition every level runs on the three paths back to back, rotating which',
    '  goes first.',
    '- **Failures**: any error thrown by the SDK (non-2xx), a stream that breaks, or one that ends without its',
    '  `finish_reason` and usage; counted over every request of the run (warm-ups excepted).',
    '',
    ...workNotes(results).map((note) => `- ${note}`),
    '',
  ]
    .filter((line, i, lines) => !(line === '' && lines[i - 1] === ''))
    .join('\n');
}

/** llama-server's arguments without this run's model path and port. */
function displayArgs(args: string[]): string {
  return args.map((arg, i) => (args[i - 1] === '-m' ? '<model.gguf>' : args[i - 1] === '--port' ? '<free port>' : arg)).join(' ');
}

const log = benchLogger('scaling');

/** The commit the run measured, and whether core/ or apps/ had changes on top (dist/ is what runs). */
function gitDescription(): string {
  const git = (args: string[]) => spawnSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).stdout?.trim() ?? '';
  const dirty = git(['status', '--porcelain', '--', 'core', 'apps']).length > 0;
  return `${git(['rev-parse', '--short', 'HEAD'])}${dirty ? ' (core/apps had uncommitted changes; the run used dist/ as built)' : ''}`;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  assertBuilt();
  const command = `node --import tsx bench/scaling.ts${quick ? ' --quick' : ''}`;
  // The one-time build is not part of the run's time.
  const build = ensureLlamaServer(log);
  if (!build.bin) log(`llama-server is not available, measuring llmsvc vs direct only: ${build.error}`);
  const startedAt = performance.now();
  const llama = await getLlama({ gpu: false, build: 'never' });
  try {
    const results: ModelResults[] = [];
    for (const modelCase of await modelCases()) results.push(await runModel(llama, modelCase, build.bin));
    const info: RunInfo = {
      date: new Date().toISOString(),
      seconds: (performance.now() - startedAt) / 1000,
      command,
      build,
      llamaServerArgs: results.find((r) => r.llamaServerArgs)?.llamaServerArgs,
      git: gitDescription(),
    };
    const tables = [
      targetSummary(results).join('\n'),
      textTable(throughputHeader, throughputRows(results)),
      textTable(stepHeader, stepRows(results)),
      diagnosis(results).join('\n'),
      textTable(ttftHeader, ttftRows(results)),
      textTable(lagHeader, lagRows(results)),
      textTable(lateHeader, lateRows(results)),
      reuseRows(results).length > 0 ? textTable(reuseHeader, reuseRows(results)) : '',
      textTable(failureHeader, failureRows()),
      textTable(cpuHeader, cpuRows(results)),
      workNotes(results).join('\n'),
    ];
    process.stdout.write(`\n${tables.filter(Boolean).join('\n\n')}\n`);
    writeResultsSection(sectionHeading, resultsSection(results, info));
    log(`wrote ${path.relative(projectRoot, resultsFile)}; the run took ${info.seconds.toFixed(0)} s`);
  } finally {
    await cleanUp();
    await llama.dispose();
  }
}

await runBenchmark('scaling', main);
