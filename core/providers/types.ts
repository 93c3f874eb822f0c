/** The one interface every provider implements (local llama.cpp now; ONNX and cloud providers
 *  later). Requests arrive already validated and in llmsvc's own neutral shape; each front
 *  (OpenAI, Anthropic) translates to and from it. */

/** A call the model asked for. `arguments` is the JSON text the model produced (OpenAI's shape;
 *  Anthropic's `input` object is its parsed form). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A function the model may call: its name, what it does, and a JSON Schema of its arguments. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: object;
}

/** auto: the model chooses; none: never call; required: call at least one; or one named tool. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  /** An assistant turn: its text, and the tools it called (if any). */
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  /** The result of a tool call, answering the call with this id. */
  | { role: 'tool'; content: string; toolCallId: string };

export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; schema: object };

export interface SamplingOptions {
  temperature?: number;
  topP?: number;
  /** Sample from the k most likely tokens only; undefined: llama.cpp's default (40). */
  topK?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  stop?: string[];
  /** Added to the logits of these token ids (the target model's own) before sampling, as in
   *  OpenAI's logit_bias: -100 to 100; ±100 in effect bans or forces a token. */
  logitBias?: Readonly<Record<number, number>>;
}

/** Who asks and how urgently: the scheduler shares sequences fairly across callers (API keys),
 *  then across the end users behind a caller, with interactive work before background work. */
export interface ScheduleInfo {
  caller: string;
  user?: string;
  priority: 'interactive' | 'background';
}

interface GenerationRequest {
  model: string;
  schedule?: ScheduleInfo;
  /** Upper bound on generated tokens; undefined: until the context is full. */
  maxTokens?: number;
  sampling: SamplingOptions;
  responseFormat?: ResponseFormat;
  signal?: AbortSignal;
  /** Neither read nor write the response cache (the client sent x-llmsvc-cache: bypass or cache-control: no-cache). */
  cacheBypass?: boolean;
  /** Cache the answer even when sampling is random (the API key opted in). */
  cacheAlways?: boolean;
  /** false: the client wants its answer in one piece at the end, so a provider that can (see
   *  Provider.answersWhole) asks its upstream for one answer instead of a stream. Default: streamed. */
  stream?: boolean;
  /** W3C traceparent of the attempt's span (tracing on, upstream targets only): sent as the
   *  `traceparent` header so the upstream's own spans join the caller's trace. */
  traceparent?: string;
}

export interface ChatRequest extends GenerationRequest {
  messages: ChatMessage[];
  /** Functions the model may call; absent or empty: plain chat. */
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
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

/** tool_calls: the model stopped to call tools (Anthropic's tool_use). */
export type FinishReason = 'stop' | 'length' | 'tool_calls';

export type GenerationEvent =
  | { type: 'text'; text: string }
  // A complete tool call; a generation that makes calls ends with finishReason 'tool_calls'.
  | { type: 'tool_call'; call: ToolCall }
  // stopSequence: the request's stop sequence that ended it, if one did (Anthropic reports it).
  // promptTokens: an upstream provider learns the exact prompt size only at the end; it then
  // corrects the estimate its Generation started with.
  // queuedMs: how long a local generation waited in the fair queue for a sequence (for tracing).
  | { type: 'end'; finishReason: FinishReason; completionTokens: number; stopSequence?: string; promptTokens?: number; queuedMs?: number };

/** A generation that passed validation (the model exists, the prompt fits). It starts when its
 *  `events` are first read (so a request refused after validation costs nothing), has one
 *  consumer, and leaving the loop early aborts it. */
export interface Generation {
  promptTokens: number;
  /** The most tokens it will generate (max_tokens, or what is left of the context). */
  maxTokens: number;
  events: AsyncIterable<GenerationEvent>;
  /** Set when the response cache was consulted: a replayed answer (hit), a fresh one (miss), or not asked (bypass). */
  cacheStatus?: 'hit' | 'miss' | 'bypass';
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

/** What counting a chat prompt needs: the tools count too, since their documentation is part of the prompt. */
export type TokenCountRequest = Pick<ChatRequest, 'model' | 'messages' | 'tools' | 'toolChoice' | 'signal'>;

export interface Provider {
  readonly id: string;
  /** Asks its upstream for one whole answer when a request says `stream: false` (so the resilience
   *  layer bounds that call by the whole-answer timeout, not the first-byte one). */
  readonly answersWhole?: boolean;
  listModels(): ProviderModel[];
  chat(request: ChatRequest): Promise<Generation>;
  complete(request: CompletionRequest): Promise<Generation>;
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
  dispose(): Promise<void>;
  /** The exact number of prompt tokens `chat` would evaluate for these messages. */
  countChatTokens(request: TokenCountRequest): Promise<number>;
}
