import os from 'node:os';
import {
  GgufInsights,
  InsufficientMemoryError,
  readGgufFileInfo,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';
import type { ModelFile } from './modelFiles.js';
import type { RuntimeMetrics } from '../../metrics/index.js';
import type { Ticket } from '../scheduler/fairQueue.js';
import { SequencePool } from './sequencePool.js';
import { interactiveFirstGateOf, sequenceIdOf } from './interactiveFirst.js';
import { EmbeddingBatchQueue, type EmbeddingBatchOptions } from './embeddingBatchQueue.js';
import { embeddingTokensOf, MultiSequenceEmbedding } from './multiSequenceEmbedding.js';

/** How concurrent embedding inputs of a model are grouped (config embedding_batch_*). */
export type EmbeddingBatchSettings = EmbeddingBatchOptions;

export interface ModelLoadOptions {
  contextSize: number;
  /** 'auto': the most sequences, up to 4 per core (at most 16), whose estimated memory fits. */
  parallel: number | 'auto';
  threads: number;
  maxQueue: number;
  /** Sequences background (batch) work may hold at once; 'auto': all but one, at least one. */
  backgroundSequences: number | 'auto';
  /** Embedding inputs evaluated together; false or absent: one at a time. */
  embeddingBatch?: EmbeddingBatchSettings | false;
  metrics: RuntimeMetrics;
  log?: { info(obj: object, msg: string): void };
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

/** What the model and `parallel` sequences of context need, by node-llama-cpp's own estimate. */
async function memoryNeeds(llama: Llama, file: ModelFile, contextSize: number, parallel: number) {
  const insights = await GgufInsights.from(await readGgufFileInfo(file.path), llama);
  const resolvedContextSize = Math.min(contextSize, insights.trainContextSize ?? contextSize);
  const model = insights.estimateModelResourceRequirements({ gpuLayers: 0 });
  const context = insights.estimateContextResourceRequirements({ contextSize: resolvedContextSize, modelGpuLayers: 0, sequences: parallel });
  return { bytes: model.cpuRam + context.cpuRam, contextSize: resolvedContextSize };
}

/** The candidates for parallel = 'auto', most first: 4 sequences per core (at most 16), halved
 *  down to 1. Decoding several sequences together costs little more than one on a CPU that has
 *  cores to spare, and a GPU gains more still; memory is what bounds it. */
export function autoParallelCandidates(cores: number): number[] {
  const candidates: number[] = [];
  for (let n = Math.min(16, 4 * Math.max(1, cores)); n >= 1; n = Math.floor(n / 2)) candidates.push(n);
  return candidates;
}

/** The most sequences whose estimate fits in 80% of the free memory (1 when none does: the load
 *  then fails with the numbers). */
async function resolveParallel(llama: Llama, file: ModelFile, options: ModelLoadOptions): Promise<number> {
  if (options.parallel !== 'auto') return options.parallel;
  const budget = 0.8 * os.freemem();
  for (const candidate of autoParallelCandidates(os.availableParallelism())) {
    const needs = await memoryNeeds(llama, file, options.contextSize, candidate).catch(() => undefined);
    if (needs && needs.bytes <= budget) return candidate;
  }
  return 1;
}

async function loadError(llama: Llama, file: ModelFile, options: ModelLoadOptions, parallel: number, error: unknown): Promise<ApiError> {
  if (error instanceof InsufficientMemoryError) {
    const needs = await memoryNeeds(llama, file, options.contextSize, parallel).catch(() => undefined);
    const numbers = needs
      ? `with ${parallel} sequences of ${needs.contextSize} tokens needs about ${gib(needs.bytes)} GiB of memory, and ${gib(os.freemem())} GiB is free`
      : `does not fit in memory (${error.message})`;
    return new ApiError(
      'LLMSVC_ERR_INSUFFICIENT_MEMORY',
      `Model '${file.id}' ${numbers}. Lower context_size or parallel, or unload other models.`,
    );
  }
  return new ApiError(
    'LLMSVC_ERR_MODEL_LOAD_FAILED',
    `Model "${file.id}" could not be loaded from ${file.path}: ${(error as Error).message}. Check that the file is a complete GGUF model.`,
  );
}

/** One local model in memory: the weights, one context whose sequences decode together, and the
 *  embedding contexts, made on first use. */
export class LoadedModel {
  lastUsed = Date.now();
  private inFlight = 0;
  private embedding: { queue: EmbeddingBatchQueue<Token[], number[]>; evaluator: MultiSequenceEmbedding } | undefined;
  private disposed = false;
  /** Inputs embedded so far (an abandoned batch stops adding to it). */
  embeddedInputs = 0;

  private constructor(
    readonly file: ModelFile,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    readonly sequences: SequencePool,
    private readonly options: ModelLoadOptions,
  ) {}

  static async load(llama: Llama, file: ModelFile, options: ModelLoadOptions): Promise<LoadedModel> {
    let model: LlamaModel | undefined;
    const parallel = await resolveParallel(llama, file, options);
    try {
      model = await llama.loadModel({ modelPath: file.path });
      const context = await model.createContext({
        contextSize: Math.min(options.contextSize, model.trainContextSize),
        sequences: parallel,
        threads: options.threads,
      });
      const sequences = new SequencePool(context, { model: file.id, maxQueue: options.maxQueue, backgroundSequences: options.backgroundSequences, metrics: options.metrics });
      return new LoadedModel(file, model, context, sequences, options);
    } catch (error) {
      await model?.dispose();
      throw await loadError(llama, file, options, parallel, error);
    }
  }

  get id(): string {
    return this.file.id;
  }

  /** Tokens one sequence can hold: the prompt plus the completion must fit. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  /** node-llama-cpp's figures for what the weights and the context state take in memory. */
  get memoryBytes(): number {
    return this.model.size + this.context.stateSize;
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Runs `work` holding one sequence of the context, after waiting its fair turn for one.
   *  `promptTokens` lets a free sequence that already holds the prompt's prefix be chosen. */
  async withSequence<T>(
    ticket: Ticket,
    promptTokens: readonly Token[] | undefined,
    signal: AbortSignal | undefined,
    work: (sequence: LlamaContextSequence) => Promise<T>,
  ): Promise<T> {
    return this.track(async () => {
      const sequence = await this.sequences.acquire(ticket, promptTokens, signal);
      const started = performance.now();
      const gate = interactiveFirstGateOf(this.context);
      gate.started(sequenceIdOf(sequence), ticket.priority === 'background');
      try {
        return await work(sequence);
      } finally {
        gate.ended(sequenceIdOf(sequence));
        this.sequences.release(sequence, performance.now() - started);
      }
    });
  }

  /** The live request on `sequence` has its first token: batch work may share decode steps again. */
  firstTokenOn(sequence: LlamaContextSequence): void {
    interactiveFirstGateOf(this.context).firstToken(sequenceIdOf(sequence));
  }

  /** Decode speed of one finished generation, for the metrics. */
  recordDecodeSpeed(tokensAfterFirst: number, seconds: number): void {
    if (tokensAfterFirst > 0 && seconds > 0) this.options.metrics.decodeTokensPerSecond.observe({ model: this.id }, tokensAfterFirst / seconds);
  }

  /** Inputs of one request worth submitting at once: a group's worth, so that a request with
   *  many inputs fills groups without holding the queue against other requests. */
  get embeddingInputsAtOnce(): number {
    return this.options.embeddingBatch ? this.options.embeddingBatch.maxInputs : 1;
  }

  /** Embeds one input, together with the inputs of other requests that wait meanwhile. */
  async embed(input: string | Token[], signal?: AbortSignal): Promise<readonly number[]> {
    return this.track(async () => {
      const tokens = embeddingTokensOf(this.model, input);
      const vector = await this.embeddings().queue.submit(tokens, tokens.length, signal);
      this.embeddedInputs++;
      return vector;
    });
  }

  private embeddings() {
    if (this.embedding) return this.embedding;
    const contextSize = Math.min(this.options.contextSize, this.model.trainContextSize);
    // Batching off: groups of one, which the evaluator embeds exactly as before batching existed.
    const grouping = this.options.embeddingBatch || { maxInputs: 1, maxTokens: contextSize, windowMs: 0 };
    const evaluator = new MultiSequenceEmbedding(this.model, { contextSize, threads: this.options.threads, maxInputs: grouping.maxInputs, maxTokens: grouping.maxTokens });
    const batching = this.options.embeddingBatch;
    const queue = new EmbeddingBatchQueue<Token[], number[]>(
      grouping,
      (inputs) => evaluator.embedGroup(inputs),
      (size) => this.options.metrics.embeddingBatchSize.observe({ model: this.id }, size),
    );
    // Once, when batching is on: whether groups really share a decode (they need the fast addon).
    if (batching) {
      void evaluator.ready.then((together) =>
        together
          ? this.options.log?.info({ model: this.id, maxInputs: batching.maxInputs }, 'embedding groups decode together')
          : this.options.log?.info({ model: this.id }, "embedding groups are embedded one input at a time: the runtime runs on node-llama-cpp's stock addon, which reads one sequence's embedding per decode; build llmsvc's fast addon to decode them together"),
        () => {},
      );
    }
    this.embedding = { queue, evaluator };
    return this.embedding;
  }

  private async track<T>(work: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new ApiError('LLMSVC_ERR_SHUTTING_DOWN', `Model "${this.id}" was unloaded; retry the request.`);
    this.inFlight++;
    this.lastUsed = Date.now();
    try {
      return await work();
    } finally {
      this.inFlight--;
      this.lastUsed = Date.now();
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.sequences.close();
    this.embedding?.queue.close(new ApiError('LLMSVC_ERR_SHUTTING_DOWN', `Model "${this.id}" was unloaded; retry the request.`));
    await this.embedding?.evaluator.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }
}
