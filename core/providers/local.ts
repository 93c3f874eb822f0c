import type { ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, Generation, Provider, ProviderModel, TokenCountRequest } from './types.js';

/** The built-in `local` provider: the models dir, served by several runtimes (GGUF through
 *  llama.cpp, ONNX embedding models through onnxruntime). A request goes to the runtime that
 *  lists its model; an unknown model goes to the first runtime, whose error names it. */
export class LocalProvider implements Provider {
  readonly id = 'local';

  constructor(private readonly runtimes: readonly [Provider, ...Provider[]]) {}

  listModels(): ProviderModel[] {
    return this.runtimes.flatMap((runtime) => runtime.listModels());
  }

  private serving(model: string): Provider {
    return this.runtimes.find((runtime) => runtime.listModels().some((listed) => listed.id === model)) ?? this.runtimes[0];
  }

  chat(request: ChatRequest): Promise<Generation> {
    return this.serving(request.model).chat(request);
  }

  complete(request: CompletionRequest): Promise<Generation> {
    return this.serving(request.model).complete(request);
  }

  embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    return this.serving(request.model).embed(request);
  }

  countChatTokens(request: TokenCountRequest): Promise<number> {
    return this.serving(request.model).countChatTokens(request);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.runtimes.map((runtime) => runtime.dispose()));
  }
}
