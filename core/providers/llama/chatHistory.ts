import type { ChatHistoryItem } from 'node-llama-cpp';
import type { ChatMessage } from '../types.js';

/** OpenAI-style messages → node-llama-cpp's chat history. The history always ends with a model
 *  turn: an empty one to answer the last user message, or the caller's partial assistant text,
 *  which the model continues (prefill). */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    switch (message.role) {
      case 'system':
        return { type: 'system', text: message.content };
      case 'user':
        return { type: 'user', text: message.content };
      case 'assistant':
        return { type: 'model', response: [message.content] };
      case 'tool':
        // Tool calling for local models arrives with issue 5; until then a tool result is user text.
        return { type: 'user', text: message.content };
    }
  });
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}
