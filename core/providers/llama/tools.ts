import { randomBytes } from 'node:crypto';
import {
  LlamaText,
  type ChatModelFunctions,
  type ChatWrapper,
  type ChatWrapperGenerateContextStateOptions,
  type ChatWrapperGeneratedContextState,
  type GbnfJsonSchema,
  type LlamaChatResponseFunctionCall,
  type Tokenizer,
} from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';
import type { ChatRequest, ToolCall } from '../types.js';
import { enumerateIntegerRanges } from './integerRanges.js';

/** The functions a chat offers the model, and whether it must call one of them. */
export interface FunctionOffer {
  /** undefined: plain chat (no tools, or tool_choice none). */
  functions: ChatModelFunctions | undefined;
  /** required or a named tool: the model starts its answer inside a call. */
  forced: boolean;
}

/** node-llama-cpp's functions for a request's tools and tool_choice. A named tool_choice offers
 *  only that tool: node-llama-cpp's function-name grammar then allows no other, so the one
 *  tool is the only one the model is told about as well. */
export function functionOffer({ tools = [], toolChoice = 'auto' }: Pick<ChatRequest, 'tools' | 'toolChoice'>): FunctionOffer {
  if (tools.length === 0 || toolChoice === 'none') return { functions: undefined, forced: false };
  let offered = tools;
  if (typeof toolChoice === 'object') {
    offered = tools.filter((tool) => tool.name === toolChoice.name);
    if (offered.length === 0) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `tool_choice names the tool '${toolChoice.name}', which is not in tools. Name one of the tools given.`, 'tool_choice');
    }
  }
  const functions = Object.fromEntries(
    offered.map((tool) => [tool.name, { description: tool.description, params: enumerateIntegerRanges(tool.parameters) as GbnfJsonSchema }]),
  ) satisfies ChatModelFunctions;
  return { functions, forced: toolChoice !== 'auto' };
}

const forcedWrappers = new WeakMap<ChatWrapper, ChatWrapper>();

/** The chat wrapper as it is, except that its context state says the model's answer starts
 *  inside a function call (node-llama-cpp's "initially engaged" function calling, as
 *  Functionary's template uses it). LlamaChat then puts the wrapper's call prefix in the context
 *  and constrains the function name and its parameters with grammars: a call is certain, with
 *  arguments that match the tool's schema, whatever the template and the weights. The object
 *  inherits everything else from the wrapper (settings, call and result rendering). */
export function forcedCallWrapper(wrapper: ChatWrapper): ChatWrapper {
  let forced = forcedWrappers.get(wrapper);
  if (!forced) {
    forced = Object.create(wrapper) as ChatWrapper;
    forced.generateContextState = function (this: ChatWrapper, options: ChatWrapperGenerateContextStateOptions): ChatWrapperGeneratedContextState {
      const { contextText, stopGenerationTriggers, ignoreStartText } = wrapper.generateContextState.call(this, options);
      return { contextText, stopGenerationTriggers, ignoreStartText, functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] } };
    };
    forcedWrappers.set(wrapper, forced);
  }
  return forced;
}

const idAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A call id in OpenAI's form (`call_` and 24 base62 characters); the Anthropic front shows it as `toolu_…`. */
export function newToolCallId(): string {
  let id = 'call_';
  for (const byte of randomBytes(24)) id += idAlphabet[byte % idAlphabet.length];
  return id;
}

export function toToolCall(call: LlamaChatResponseFunctionCall<ChatModelFunctions>): ToolCall {
  return { id: newToolCallId(), name: call.functionName, arguments: JSON.stringify(call.params ?? {}) };
}

/** The tokens of a call as the model's context holds it (prefix, name, arguments, suffix):
 *  its share of the completion tokens, which LlamaChat's onToken does not report. */
export function callTokenCount(call: LlamaChatResponseFunctionCall<ChatModelFunctions>, tokenizer: Tokenizer): number {
  return LlamaText.fromJSON(call.raw).tokenize(tokenizer).length;
}
