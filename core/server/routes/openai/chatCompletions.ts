import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChatMessage, ChatRequest, FinishReason, Provider, ResponseFormat, ToolCall } from '../../../providers/index.js';
import { newId, unixSeconds } from '../../ids.js';
import { scheduleOf } from '../../schedule.js';
import { parseBody } from '../../validation.js';
import { runChoices } from '../../runChoices.js';
import { openaiUsage } from './choices.js';
import { samplingFrom } from './sampling.js';
import { chatCompletionRequestSchema, type ChatCompletionRequest } from './schemas.js';
import { openChunkStream } from './chunkStream.js';
import { openaiToolCall, toolCallDeltas, toToolChoice, toToolDefinitions } from './tools.js';
import { cacheAlwaysOf, cacheBypassOf, sendGeneration } from '../../cacheControl.js';
import { ApiError } from '../../../errors/index.js';
import { retrieveCitations, withSources, type Citation, type VectorStoreService } from '../../../rag/index.js';
import { requireModelAllowed } from './vectorStores.js';

function textOf(content: string | { text: string }[] | null | undefined): string {
  if (content == null) return '';
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

function toMessage(message: ChatCompletionRequest['messages'][number]): ChatMessage {
  switch (message.role) {
    case 'assistant': {
      const toolCalls = message.tool_calls?.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
      return { role: 'assistant', content: textOf(message.content), ...(toolCalls?.length ? { toolCalls } : {}) };
    }
    case 'tool':
      return { role: 'tool', content: textOf(message.content), toolCallId: message.tool_call_id };
    // "developer" is OpenAI's newer name for the system role.
    case 'developer':
      return { role: 'system', content: textOf(message.content) };
    default:
      return { role: message.role, content: textOf(message.content) };
  }
}

/** The response message of a choice: `content` is null when the model only called tools, as at OpenAI. */
function responseMessage(content: string, toolCalls: ToolCall[]) {
  if (toolCalls.length === 0) return { role: 'assistant', content, refusal: null };
  return { role: 'assistant', content: content === '' ? null : content, refusal: null, tool_calls: toolCalls.map(openaiToolCall) };
}

function toResponseFormat(format: ChatCompletionRequest['response_format']): ResponseFormat | undefined {
  if (!format || format.type !== 'json_schema') return format;
  return { type: 'json_schema', schema: format.json_schema.schema ?? {} };
}

function toChatRequest(body: ChatCompletionRequest, messages: ChatMessage[], request: FastifyRequest, index: number): ChatRequest {
  return {
    model: body.model,
    messages,
    tools: toToolDefinitions(body.tools),
    toolChoice: toToolChoice(body.tool_choice),
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    sampling: samplingFrom(body, index),
    responseFormat: toResponseFormat(body.response_format),
    schedule: scheduleOf(request, body.user),
    signal: request.abortSignal,
    cacheBypass: cacheBypassOf(request),
    cacheAlways: cacheAlwaysOf(request),
    stream: body.stream === true,
  };
}

/** POST /v1/chat/completions, streaming or not. */
export function registerChatCompletions(app: FastifyInstance, provider: Provider, vectorStores?: VectorStoreService): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseBody(chatCompletionRequestSchema, request.body);
    const n = body.n ?? 1;
    request.accounting.model = body.model;
    request.accounting.stream = body.stream === true;
    request.accounting.prompt = body.messages;
    let messages = body.messages.map(toMessage);
    let citations: Citation[] | undefined;
    if (body.retrieval) {
      if (!vectorStores) throw new ApiError('LLMSVC_ERR_UNSUPPORTED_PARAM', 'Retrieval is not available on this server; remove retrieval.', 'retrieval');
      citations = await retrieveCitations(vectorStores, messages, body.retrieval, (model) => requireModelAllowed(request, model), request.abortSignal);
      messages = withSources(messages, citations);
    }
    const start = (index: number) => provider.chat(toChatRequest(body, messages, request, index));
    const id = newId('chatcmpl');
    const created = unixSeconds();

    if (!body.stream) {
      const texts: string[] = Array.from({ length: n }, () => '');
      const toolCalls: ToolCall[][] = Array.from({ length: n }, () => []);
      const finishReasons: FinishReason[] = [];
      const usage = await runChoices(request, n, start, {
        onText: (index, text) => (texts[index] += text),
        onToolCall: (index, call) => toolCalls[index]!.push(call),
        onEnd: (index, reason) => (finishReasons[index] = reason),
      });
      return sendGeneration(request, reply, {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: texts.map((content, index) => ({
          index,
          message: responseMessage(content, toolCalls[index]!),
          finish_reason: finishReasons[index],
          logprobs: null,
        })),
        usage: openaiUsage(usage),
        ...(citations ? { citations } : {}),
      });
    }

    const stream = openChunkStream(request, reply, {
      id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      includeUsage: body.stream_options?.include_usage === true,
      ...(citations ? { firstChunkExtras: { citations } } : {}),
    });
    const started = new Set<number>();
    // The first delta of a choice names the role; a choice that starts with a tool call has null content.
    const send = (index: number, fields: object) => {
      const first = !started.has(index);
      started.add(index);
      stream.send([{ index, delta: first ? { role: 'assistant', ...fields } : fields, finish_reason: null, logprobs: null }]);
    };
    const delta = (index: number, content: string) => send(index, { content });
    const callCounts = new Map<number, number>();
    const toolCallDelta = (index: number, call: ToolCall) => {
      const callIndex = callCounts.get(index) ?? 0;
      callCounts.set(index, callIndex + 1);
      const [head, args] = toolCallDeltas(callIndex, call);
      send(index, started.has(index) ? head! : { content: null, ...head });
      send(index, args!);
    };
    await stream.run(() =>
      runChoices(request, n, start, {
        onStart: stream.open,
        onText: delta,
        onToolCall: toolCallDelta,
        onEnd: (index, reason) => {
          if (!started.has(index)) delta(index, '');
          stream.send([{ index, delta: {}, finish_reason: reason, logprobs: null }]);
        },
      }),
    );
    return reply;
  });
}
