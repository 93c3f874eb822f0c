/** The one interface every provider implements (local llama.cpp now; ONNX and cloud providers
 *  later). Requests arrive already validated and in llmsvc's own neutral shape; each front
 *  (OpenAI, Anthropic) translates to and from it. */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; schema: object };

export interface SamplingOptions {
  temperature?: number;
  topP?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  stop?: string[];
}

interface GenerationRequest {
  model: string;
  /** Upper bound on generated tokens; undefined: until the context is full. */
  maxTokens?: number;
  sampling: SamplingOptions;
  responseFormat?: ResponseFormat;
  signal?: AbortSignal;
}

export interface ChatRequest extends GenerationRequest {
  messages: ChatMessage[];
}

export interface CompletionRequest extends GenerationRequest {
  /** Text, or token ids. */
  prompt: string | number[];
}

export interface EmbeddingRequest {
  model: string;
  inputs: (string | number[])[];
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length';

export type GenerationEvent =
  | { type: 'text'; text: string }
  | { type: 'end'; finishReason: FinishReason; completionTokens: number };

/** A generation that passed validation (the model exists, the prompt fits). It starts when its
 *  `events` are first read (so a request refused after validation costs nothing), has one
 *  consumer, and leaving the loop early aborts it. */
export interface Generation {
  promptTokens: number;
  /** The most tokens it will generate (max_tokens, or what is left of the context). */
  maxTokens: number;
  events: AsyncIterable<GenerationEvent>;
}

export interface EmbeddingResult {
  vectors: number[][];
  promptTokens: number;
}

export interface ProviderModel {
  id: string;
  created: number;
  ownedBy: string;
}

export interface Provider {
  readonly id: string;
  listModels(): ProviderModel[];
  hasModel(id: string): boolean;
  chat(request: ChatRequest): Promise<Generation>;
  complete(request: CompletionRequest): Promise<Generation>;
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
  dispose(): Promise<void>;
}
