import * as ort from 'onnxruntime-node';
import { ApiError } from '../../errors/index.js';
import { InputEncoder, type EncodedInput } from './inputEncoder.js';
import { MicroBatcher } from './microBatcher.js';
import { readEmbeddingModelDirectory, type EmbeddingModelSpec } from './modelDirectory.js';
import { padBatch } from './paddedBatch.js';
import { poolEmbeddings } from './pooling.js';

export interface EmbeddingModelOptions {
  /** onnxruntime's intra-op threads for one run. */
  intraOpThreads: number;
  /** How long a request waits for others to share its batch. */
  batchWindowMs: number;
  /** The most inputs (sequences) in one run. */
  maxBatchSize: number;
}

export interface EmbeddingOutput {
  vectors: number[][];
  /** Tokens the model evaluated for the inputs, special tokens included, after truncation. */
  promptTokens: number;
}

/** What a model has done since it was loaded; `batches` counts session runs. */
export interface EmbeddingModelStats {
  batches: number;
  sequences: number;
  tokens: number;
  largestBatch: number;
}

const HIDDEN_STATES_OUTPUT = 'last_hidden_state';

/** One loaded sentence-embedding model: its tokenizer, its onnxruntime session, and the batcher
 *  that merges concurrent requests into padded batches. Lives in the ONNX runtime thread. */
export class OnnxEmbeddingModel {
  private readonly batcher: MicroBatcher<EncodedInput, number[]>;
  private readonly counters: EmbeddingModelStats = { batches: 0, sequences: 0, tokens: 0, largestBatch: 0 };
  private readonly outputName: string;
  private disposed = false;

  private constructor(
    readonly spec: EmbeddingModelSpec,
    private readonly encoder: InputEncoder,
    private readonly session: ort.InferenceSession,
    options: EmbeddingModelOptions,
  ) {
    this.batcher = new MicroBatcher((inputs) => this.runBatch(inputs), { windowMs: options.batchWindowMs, maxBatchSize: options.maxBatchSize });
    this.outputName = session.outputNames.includes(HIDDEN_STATES_OUTPUT) ? HIDDEN_STATES_OUTPUT : session.outputNames[0]!;
  }

  static async load(dir: string, options: EmbeddingModelOptions): Promise<OnnxEmbeddingModel> {
    const spec = readEmbeddingModelDirectory(dir);
    const encoder = new InputEncoder(spec.tokenizer, spec.tokenizerConfig, spec.maxLength, spec.vocabSize);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(spec.modelPath, {
        intraOpNumThreads: options.intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (error) {
      throw new ApiError('LLMSVC_ERR_MODEL_LOAD_FAILED', `The embedding model '${spec.id}' cannot be loaded: onnxruntime rejects its model.onnx (${(error as Error).message}). Replace it with a valid ONNX export.`, 'model');
    }
    const unknownInputs = session.inputNames.filter((name) => !['input_ids', 'attention_mask', 'token_type_ids'].includes(name));
    if (!session.inputNames.includes('input_ids') || unknownInputs.length > 0) {
      await session.release();
      throw new ApiError(
        'LLMSVC_ERR_MODEL_LOAD_FAILED',
        `The embedding model '${spec.id}' cannot be loaded: its model.onnx takes inputs ${session.inputNames.join(', ')}; an encoder export takes input_ids and optionally attention_mask and token_type_ids.`,
        'model',
      );
    }
    return new OnnxEmbeddingModel(spec, encoder, session, options);
  }

  /** Embeds the inputs; each joins whichever batch is forming, so concurrent calls share runs. */
  async embed(inputs: readonly (string | number[])[]): Promise<EmbeddingOutput> {
    if (this.disposed) throw new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The embedding model was unloaded; retry the request.');
    const encoded = inputs.map((input, index) => this.encoder.encode(input, index));
    const vectors = await Promise.all(encoded.map((input) => this.batcher.submit(input)));
    return { vectors, promptTokens: encoded.reduce((sum, input) => sum + input.ids.length, 0) };
  }

  stats(): EmbeddingModelStats {
    return { ...this.counters };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.batcher.close(new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The embedding model was unloaded before this request ran; retry it.'));
    await this.session.release();
  }

  private async runBatch(inputs: EncodedInput[]): Promise<number[][]> {
    const batch = padBatch(inputs, this.spec.padId);
    const dims = [batch.batchSize, batch.sequenceLength];
    const tensors: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', batch.inputIds, dims),
      attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
      token_type_ids: new ort.Tensor('int64', batch.tokenTypeIds, dims),
    };
    const feeds = Object.fromEntries(this.session.inputNames.map((name) => [name, tensors[name]!]));
    const outputs = await this.session.run(feeds, [this.outputName]);
    const hidden = outputs[this.outputName]!;
    const [rows, columns, dimension] = hidden.dims;
    if (hidden.dims.length !== 3 || rows !== batch.batchSize || columns !== batch.sequenceLength || dimension !== this.spec.dimension) {
      throw new ApiError('LLMSVC_ERR_INTERNAL', `The embedding model '${this.spec.id}' produced ${this.outputName} of shape [${hidden.dims.join(', ')}]; expected [${dims.join(', ')}, ${this.spec.dimension}]. Check that its config matches its model.onnx.`);
    }
    this.counters.batches++;
    this.counters.sequences += batch.batchSize;
    this.counters.tokens += inputs.reduce((sum, input) => sum + input.ids.length, 0);
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.batchSize);
    const vectors = poolEmbeddings({ data: hidden.data as Float32Array, batchSize: rows, sequenceLength: columns, dimension }, batch.attentionMask, this.spec.pooling, this.spec.normalize);
    for (const output of Object.values(outputs)) output.dispose();
    return vectors;
  }
}
