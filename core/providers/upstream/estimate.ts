import type { ChatMessage, ToolDefinition } from '../types.js';

/** A prompt's size in tokens before an upstream reports it: about 4 characters a token, plus a
 *  few tokens of framing per message, as OpenAI's guidance suggests. Used only to reserve TPM and
 *  quota up front (the end event carries the exact count) and for count_tokens on upstreams that
 *  have no counting endpoint. */
export function estimateChatTokens(messages: ChatMessage[], tools: ToolDefinition[] = []): number {
  let characters = 0;
  for (const message of messages) {
    characters += message.content.length;
    if (message.role === 'assistant') for (const call of message.toolCalls ?? []) characters += call.name.length + call.arguments.length;
  }
  for (const tool of tools) characters += JSON.stringify(tool).length;
  return Math.ceil(characters / 4) + 4 * messages.length + 3;
}

export function estimateTextTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** A legacy completion prompt: text is estimated, token ids are counted. */
export function estimatePromptTokens(prompt: string | number[]): number {
  return typeof prompt === 'string' ? estimateTextTokens(prompt) : prompt.length;
}

/** OpenAI's embeddings answer (from its SDK or read raw) as llmsvc's result, in input order. */
export function embeddingResultOf(answer: { data: readonly { index: number; embedding: number[] }[]; usage?: { prompt_tokens?: number } | null }) {
  const vectors = [...answer.data].sort((a, b) => a.index - b.index).map((item) => item.embedding);
  return { vectors, promptTokens: answer.usage?.prompt_tokens ?? 0 };
}
