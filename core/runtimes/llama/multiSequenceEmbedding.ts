// Evaluates a group of embedding inputs (see embeddingBatchQueue.ts) for one GGUF model.
//
// Fast path: one embedding context with a sequence per input; the tokens of the group's inputs of
// equal length (see sameLengthRuns) are queued each on its own sequence in the same turn of the
// event loop, so node-llama-cpp's decode loop puts them in one batch (one llama_decode), and each
// vector is read for its own sequence right after the decode that evaluated its last token.
// Reading per sequence needs `getSequenceEmbedding` on the native context, which only llmsvc's
// optional compiled addon has: stock node-llama-cpp 3.21.1 reads sequence 0 only (AddonContext
// GetEmbedding). Without it, and for a group of one, inputs are embedded one at a time on a
// one-sequence context exactly as before batching (LlamaEmbeddingContext.getEmbeddingFor).

import { LlamaContextSequence, LlamaVocabularyType, type LlamaContext, type LlamaContextOptions, type LlamaEmbeddingContext, type LlamaModel, type Token } from 'node-llama-cpp';

/** What the compiled addon adds to a native context: the embedding of one sequence after a decode
 *  (pooled by the model's pooling type; for unpooled models, the output of the batch position
 *  given, the sequence's last token). */
interface SequenceEmbeddingNative {
  getSequenceEmbedding(sequenceId: number, batchIndexOfLastToken?: number, maxVectorSize?: number): ArrayLike<number>;
}

/** The internals of node-llama-cpp 3.21.1's LlamaContextSequence that the fast path uses: queuing
 *  tokens with a callback that runs right after the decode that produced a requested output (its
 *  public evaluate() samples a token there instead). */
interface SequenceInternals {
  _sequenceId: number;
  _tokenMeter: unknown;
  _contextShift: unknown;
  _decodeTokens(
    tokens: Token[],
    logits: boolean[],
    evaluationPriority: number,
    tokenMeter: unknown,
    contextShiftOptions: unknown,
    logitDataMapper: (batchLogitIndex: number, tokenIndex: number) => unknown,
  ): Promise<unknown[]>;
}

/** node-llama-cpp's default evaluation priority. */
const evaluationPriority = 5;

function nativeOf(context: LlamaContext): Partial<SequenceEmbeddingNative> | undefined {
  return (context as unknown as { _ctx?: Partial<SequenceEmbeddingNative> })._ctx;
}

/** Whether this context's native side can pool per sequence and the sequence internals are there. */
export function supportsSequenceEmbedding(context: LlamaContext): boolean {
  const sequenceInternals = LlamaContextSequence.prototype as unknown as Partial<SequenceInternals>;
  return typeof nativeOf(context)?.getSequenceEmbedding === 'function' && typeof sequenceInternals._decodeTokens === 'function';
}

/** The tokens llama.cpp evaluates for an embedding input, as LlamaEmbeddingContext prepares them:
 *  the text tokenized without special tokens, then the beginning and end tokens the vocabulary
 *  adds (llama_tokenize_internal's rules), unless the input already has them. */
export function embeddingTokensOf(model: LlamaModel, input: string | readonly Token[]): Token[] {
  const tokens = typeof input === 'string' ? model.tokenize(input, false) : [...input];
  const { vocabularyType } = model;
  const specials = model.tokens;
  const first =
    vocabularyType === LlamaVocabularyType.wpm ? specials.bos
    : vocabularyType === LlamaVocabularyType.rwkv || vocabularyType === LlamaVocabularyType.ugm ? null
    : specials.shouldPrependBosToken ? specials.bos
    : null;
  const last =
    vocabularyType === LlamaVocabularyType.wpm ? specials.sep
    : vocabularyType === LlamaVocabularyType.ugm ? specials.eos
    : vocabularyType === LlamaVocabularyType.rwkv ? null
    : specials.shouldAppendEosToken ? specials.eos
    : null;
  if (first != null && tokens[0] !== first) tokens.unshift(first);
  if (last != null && tokens.at(-1) !== last) tokens.push(last);
  return tokens;
}

/** The inputs of a group by token count (indexes, in order). Only inputs of the same length are
 *  decoded together: llama.cpp splits a batch of several sequences into micro-batches with the
 *  same number of tokens of each (llama_batch_allocr::split_equal), so a longer input would be
 *  evaluated in two pieces, and an input evaluated in pieces gets a slightly different vector
 *  than in one (measured: up to 4e-2 on values of ~3 with the synthetic 135M model, the same as
 *  when node-llama-cpp's own embedding context has a batch smaller than the input). Inputs of
 *  equal length are evaluated whole, side by side, and come out bitwise the same as alone.
 *  Documents chunked by tokens give mostly equal lengths. */
export function sameLengthRuns(inputs: readonly (readonly Token[])[]): number[][] {
  const byLength = new Map<number, number[]>();
  inputs.forEach((tokens, index) => {
    const run = byLength.get(tokens.length);
    if (run) run.push(index);
    else byLength.set(tokens.length, [index]);
  });
  return [...byLength.values()];
}

export interface MultiSequenceEmbeddingOptions {
  /** Context of the one-at-a-time path: the longest input it embeds, less one. */
  contextSize: number;
  threads: number;
  /** Sequences of the fast path's context: the most inputs of a group. */
  maxInputs: number;
  /** The most tokens of a group: each fast-path sequence holds this many, and one batch all. */
  maxTokens: number;
}

/** Evaluates embedding groups of one model, one group at a time (the queue sees to that). */
export class MultiSequenceEmbedding {
  private single: Promise<LlamaEmbeddingContext> | undefined;
  private multi: Promise<{ context: LlamaContext; sequences: LlamaContextSequence[] }> | undefined;
  /** Whether groups are decoded together: known once the first context exists. */
  private fastPath: boolean | undefined;
  private resolveReady!: (together: boolean) => void;
  /** Resolves, once the first input is embedded, with whether groups are decoded together. */
  readonly ready = new Promise<boolean>((resolve) => (this.resolveReady = resolve));

  constructor(
    private readonly model: LlamaModel,
    private readonly options: MultiSequenceEmbeddingOptions,
  ) {}

  /** One vector per input, in order. Inputs are prepared tokens (embeddingTokensOf). */
  async embedGroup(inputs: readonly Token[][]): Promise<number[][]> {
    const single = await this.singleContext();
    const vectors: number[][] = new Array(inputs.length);
    const alone: number[] = [];
    if (inputs.length > 1 && this.fastPath) {
      const multi = await this.multiContext();
      for (const indexes of sameLengthRuns(inputs)) {
        if (indexes.length < 2 || inputs[indexes[0]!]!.length >= multi.context.contextSize) {
          alone.push(...indexes);
          continue;
        }
        const together = await this.evaluateTogether(multi, indexes.map((index) => inputs[index]!));
        indexes.forEach((index, k) => (vectors[index] = together[k]!));
      }
    } else alone.push(...inputs.keys());
    for (const index of alone.sort((a, b) => a - b)) vectors[index] = [...(await single.getEmbeddingFor(inputs[index]!)).vector];
    return vectors;
  }

  private async singleContext(): Promise<LlamaEmbeddingContext> {
    this.single ??= this.model.createEmbeddingContext({ contextSize: this.options.contextSize, threads: this.options.threads });
    const single = await this.single;
    if (this.fastPath === undefined) {
      this.fastPath = supportsSequenceEmbedding((single as unknown as { _llamaContext: LlamaContext })._llamaContext);
      this.resolveReady(this.fastPath);
    }
    return single;
  }

  private multiContext() {
    this.multi ??= (async () => {
      const context = await this.model.createContext({
        // Each sequence holds a whole group's worth of tokens (and one more: node-llama-cpp keeps a
        // cell free), and one batch takes a whole group.
        contextSize: this.options.maxTokens + 1,
        sequences: this.options.maxInputs,
        batchSize: this.options.maxTokens + 1,
        threads: this.options.threads,
        _embeddings: true,
      } as LlamaContextOptions);
      const sequences = Array.from({ length: this.options.maxInputs }, () => context.getSequence());
      return { context, sequences };
    })();
    return this.multi;
  }

  private async evaluateTogether(multi: { context: LlamaContext; sequences: LlamaContextSequence[] }, inputs: readonly Token[][]): Promise<number[][]> {
    const native = nativeOf(multi.context) as SequenceEmbeddingNative;
    const sequences = multi.sequences.slice(0, inputs.length);
    // The previous group's tokens go first (awaited together, before anything is queued).
    await Promise.all(sequences.map((sequence) => (sequence.nextTokenIndex > 0 ? sequence.eraseContextTokenRanges([{ start: 0, end: sequence.nextTokenIndex }]) : undefined)));
    // Queued in one synchronous loop: the decode loop, scheduled for the next turn, sees them all.
    const vectors = inputs.map(async (tokens, index): Promise<number[]> => {
      if (tokens.length === 0) return [];
      const sequence = sequences[index] as unknown as SequenceInternals;
      const logits: boolean[] = [];
      logits[tokens.length - 1] = true;
      const outputs = await sequence._decodeTokens(
        tokens,
        logits,
        evaluationPriority,
        sequence._tokenMeter,
        sequence._contextShift,
        // Runs right after the decode that evaluated the last token, before any later decode.
        (batchLogitIndex) => Array.from(native.getSequenceEmbedding(sequence._sequenceId, batchLogitIndex)),
      );
      const vector = outputs[tokens.length - 1];
      if (!Array.isArray(vector)) throw new Error('The embedding of a sequence was not read after its decode.');
      return vector as number[];
    });
    return Promise.all(vectors);
  }

  async dispose(): Promise<void> {
    const single = await this.single?.catch(() => undefined);
    await single?.dispose();
    const multi = await this.multi?.catch(() => undefined);
    await multi?.context.dispose();
  }
}
