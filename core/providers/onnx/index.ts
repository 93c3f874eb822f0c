import path from 'node:path';
import { ApiError } from '../../errors/index.js';
import { listOnnxModelDirectories, OnnxEmbeddingRuntime, type EmbeddingModelStats, type OnnxRuntimeSettings } from '../../runtimes/onnx/index.js';
import type { ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, Generation, Provider, ProviderModel, TokenCountRequest } from '../types.js';

export interface OnnxEmbeddingProviderOptions {
  /** Every subdirectory holding a `model.onnx` is a model; its name is the model id. */
  modelsDir: string;
  runtime?: Partial<OnnxRuntimeSettings>;
}

interface ModelDirectory extends ProviderModel {
  dir: string;
}

/** Sentence-embedding models exported to ONNX (sentence-transformers layout), run by
 *  onnxruntime-node in the ONNX runtime thread. They embed; they do not generate text. */
export class OnnxEmbeddingProvider implements Provider {
  readonly id = 'onnx';
  private readonly runtime: OnnxEmbeddingRuntime;

  constructor(private readonly options: OnnxEmbeddingProviderOptions) {
    this.runtime = new OnnxEmbeddingRuntime(options.runtime);
  }

  /** Read on each call, so a model copied into the folder is served without a restart. */
  listModels(): ProviderModel[] {
    return this.modelDirectories().map(({ id, created, ownedBy }) => ({ id, created, ownedBy }));
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    request.signal?.throwIfAborted();
    const model = this.modelDirectories().find((candidate) => candidate.id === request.model);
    if (!model) {
      throw new ApiError('LLMSVC_ERR_MODEL_NOT_FOUND', `The model '${request.model}' does not exist. GET /v1/models lists the models this server has.`, 'model');
    }
    const { vectors, promptTokens } = await this.runtime.embed(model.dir, request.inputs);
    return { vectors, promptTokens };
  }

  chat(request: ChatRequest): Promise<Generation> {
    return Promise.reject(this.notAGenerator(request.model, 'POST /v1/chat/completions'));
  }

  complete(request: CompletionRequest): Promise<Generation> {
    return Promise.reject(this.notAGenerator(request.model, 'POST /v1/completions'));
  }

  countChatTokens(request: TokenCountRequest): Promise<number> {
    return Promise.reject(this.notAGenerator(request.model, 'token counting for chat'));
  }

  /** Per loaded model id: batches run, sequences and tokens embedded. */
  async stats(): Promise<Record<string, EmbeddingModelStats>> {
    const byDir = await this.runtime.stats();
    return Object.fromEntries(Object.entries(byDir).map(([dir, stats]) => [path.basename(dir), stats]));
  }

  dispose(): Promise<void> {
    return this.runtime.dispose();
  }

  private notAGenerator(model: string, what: string): ApiError {
    return new ApiError(
      'LLMSVC_ERR_UNSUPPORTED_BY_MODEL',
      `The model '${model}' is an embedding model: it serves POST /v1/embeddings only, not ${what}. Choose a chat model (GET /v1/models lists them).`,
      'model',
    );
  }

  /** Only the directory listing: the bytes of each model are not needed here. */
  private modelDirectories(): ModelDirectory[] {
    return listOnnxModelDirectories(this.options.modelsDir).map(({ id, created, dir }) => ({ id, created, ownedBy: 'llmsvc', dir }));
  }
}
