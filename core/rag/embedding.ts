/** How core/rag gets embeddings: the server wires this to the provider (routing), the CLI to a
 *  local runtime, tests to whatever they need. */
export interface EmbedResult {
  vectors: number[][];
  promptTokens: number;
}

export type EmbedFunction = (model: string, inputs: string[], signal?: AbortSignal) => Promise<EmbedResult>;
