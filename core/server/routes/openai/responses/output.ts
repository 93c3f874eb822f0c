import type { FinishReason, ToolCall } from '../../../../providers/index.js';
import type { ChoicesUsage } from '../../../runChoices.js';
import { newId } from '../../../ids.js';
import { openaiCallId } from '../tools.js';
import type { CreateResponseBody } from './schema.js';

/** The Response object and its output items, built as the generation goes: the same builder
 *  serves a plain answer and a stream (whose events report each step, see stream.ts). */

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export function outputText(text: string) {
  return { type: 'output_text' as const, text, annotations: [], logprobs: [] };
}

export interface MessageOutput {
  id: string;
  type: 'message';
  role: 'assistant';
  status: 'in_progress' | 'completed' | 'incomplete';
  content: ReturnType<typeof outputText>[];
}

export interface FunctionCallOutput {
  id: string;
  type: 'function_call';
  status: 'in_progress' | 'completed' | 'incomplete';
  call_id: string;
  name: string;
  arguments: string;
}

export type OutputItem = MessageOutput | FunctionCallOutput;

/** What a stream tells the client as the output grows; the non-streaming answer ignores these. */
export interface OutputListener {
  messageOpened(item: MessageOutput, outputIndex: number): void;
  textAdded(item: MessageOutput, outputIndex: number, delta: string): void;
  messageClosed(item: MessageOutput, outputIndex: number): void;
  functionCalled(item: FunctionCallOutput, outputIndex: number): void;
}

/** Output items in order: text goes to the open message (opened on the first text), a call closes
 *  it and is an item of its own. A response with neither has one empty message, as at OpenAI. */
export class OutputBuilder {
  readonly items: OutputItem[] = [];
  private open: MessageOutput | undefined;

  constructor(private readonly listener?: OutputListener) {}

  text(delta: string): void {
    if (!this.open) {
      this.open = { id: newId('msg', '_'), type: 'message', role: 'assistant', status: 'in_progress', content: [outputText('')] };
      this.items.push(this.open);
      this.listener?.messageOpened(this.open, this.items.length - 1);
    }
    this.open.content[0]!.text += delta;
    if (delta !== '') this.listener?.textAdded(this.open, this.items.length - 1, delta);
  }

  toolCall(call: ToolCall): void {
    this.closeMessage('completed');
    const item: FunctionCallOutput = { id: newId('fc', '_'), type: 'function_call', status: 'completed', call_id: openaiCallId(call.id), name: call.name, arguments: call.arguments };
    this.items.push(item);
    this.listener?.functionCalled(item, this.items.length - 1);
  }

  /** Closes what is open when the generation ends. */
  finish(status: 'completed' | 'incomplete'): void {
    if (this.items.length === 0) this.text('');
    this.closeMessage(status);
  }

  private closeMessage(status: MessageOutput['status']): void {
    if (!this.open) return;
    this.open.status = status;
    this.listener?.messageClosed(this.open, this.items.indexOf(this.open));
    this.open = undefined;
  }
}

/** How a generation's finish reason reads in a Response: cut by the token limit is "incomplete". */
export function statusOf(finishReason: FinishReason): 'completed' | 'incomplete' {
  return finishReason === 'length' ? 'incomplete' : 'completed';
}

export function responseUsage(usage: ChoicesUsage) {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

export interface ResponseEnvelope {
  id: string;
  createdAt: number;
  body: CreateResponseBody;
  store: boolean;
}

export interface ResponseState {
  status: ResponseStatus;
  output: OutputItem[];
  usage: ChoicesUsage | null;
  error?: { code: string; message: string } | null;
  completedAt?: number | null;
}

/** The Response object: the request's settings echoed back with the output, status and usage. */
export function responseObject(envelope: ResponseEnvelope, state: ResponseState) {
  const { body } = envelope;
  const format = body.text?.format ?? { type: 'text' as const };
  return {
    id: envelope.id,
    object: 'response' as const,
    created_at: envelope.createdAt,
    status: state.status,
    completed_at: state.completedAt ?? null,
    background: false,
    error: state.error ?? null,
    incomplete_details: state.status === 'incomplete' ? { reason: 'max_output_tokens' as const } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: body.max_tool_calls ?? null,
    model: body.model,
    output: state.output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: envelope.store,
    temperature: body.temperature ?? 1,
    text: { format, verbosity: body.text?.verbosity ?? 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: (body.tools ?? []).map((tool) => ({
      type: 'function' as const,
      name: tool.name,
      description: tool.description ?? null,
      parameters: tool.parameters ?? { type: 'object', properties: {} },
      strict: tool.strict ?? true,
    })),
    top_logprobs: 0,
    top_p: body.top_p ?? 1,
    truncation: 'disabled' as const,
    // Absent until the generation has ended (OpenAI's schema has no null usage).
    ...(state.usage ? { usage: responseUsage(state.usage) } : {}),
    ...(body.user ? { user: body.user } : {}),
    metadata: body.metadata ?? {},
  };
}

export type ResponseObject = ReturnType<typeof responseObject>;
