import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse } from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';
import type { ChatMessage, ToolCall } from '../types.js';

/** A tool's arguments or result as node-llama-cpp renders them: JSON values where the text is
 *  JSON (so the template shows `{"city": "Paris"}`, not an escaped string), the text otherwise. */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function invalidConversation(message: string): ApiError {
  return new ApiError('LLMSVC_ERR_INVALID_PARAM', `Invalid value for 'messages': ${message}.`, 'messages');
}

/** Neutral messages → node-llama-cpp's chat history. The history always ends with a model turn:
 *  an empty one to answer the last user message, or the caller's partial assistant text, which
 *  the model continues (prefill).
 *
 *  Tool calls follow node-llama-cpp's own shape: an assistant's calls are functionCall items of
 *  its model turn, each holding the result its tool message gave, and whatever the assistant
 *  says after the results continues that same turn (as LlamaChatSession records it), so the
 *  chat template renders calls and results its model's way. A conversation that ends with tool
 *  results therefore ends with that model turn, which the model continues. */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  /** The calls of the current model turn still waiting for their results, by id. */
  const unanswered = new Map<string, ChatModelFunctionCall>();
  /** The model turn that tool results (and the text after them) belong to. */
  let openTurn: ChatModelResponse | undefined;

  const closeTurn = () => {
    const [id] = unanswered.keys();
    if (id !== undefined) throw invalidConversation(`the tool call '${id}' has no tool result; answer every tool call before the next user or system message`);
    openTurn = undefined;
  };

  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'user':
        closeTurn();
        history.push(message.role === 'system' ? { type: 'system', text: message.content } : { type: 'user', text: message.content });
        break;
      case 'assistant': {
        // Text after tool results continues the turn that made the calls.
        const continuesTurn = openTurn !== undefined && unanswered.size === 0 && lastIsFunctionCall(openTurn);
        if (!continuesTurn) closeTurn();
        const turn: ChatModelResponse = continuesTurn ? openTurn! : { type: 'model', response: [] };
        if (!continuesTurn) history.push(turn);
        if (message.content) turn.response.push(message.content);
        for (const call of message.toolCalls ?? []) {
          const item = functionCallItem(call);
          turn.response.push(item);
          unanswered.set(call.id, item);
        }
        openTurn = turn;
        break;
      }
      case 'tool': {
        const call = unanswered.get(message.toolCallId);
        if (!call) throw invalidConversation(`the tool result for '${message.toolCallId}' answers no tool call of the assistant message before it`);
        call.result = jsonOrText(message.content);
        unanswered.delete(message.toolCallId);
        break;
      }
    }
  }
  closeTurn();
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

function lastIsFunctionCall(turn: ChatModelResponse): boolean {
  const last = turn.response.at(-1);
  return typeof last === 'object' && last.type === 'functionCall';
}

function functionCallItem(call: ToolCall): ChatModelFunctionCall {
  return { type: 'functionCall', name: call.name, params: jsonOrText(call.arguments), result: undefined };
}
