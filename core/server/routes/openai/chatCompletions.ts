import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChatMessage, ChatRequest, FinishReason, Provider, ResponseFormat } from '../../../providers/index.js';
import { newId, unixSeconds } from '../../ids.js';
import { scheduleOf } from '../../schedule.js';
import { parseBody } from '../../validation.js';
import { runChoices } from '../../runChoices.js';
import { openaiUsage } from './choices.js';
import { samplingFrom } from './sampling.js';
import { chatCompletionRequestSchema, type ChatCompletionRequest } from './schemas.js';
import { openChunkStream } from './chunkStream.js';

function textOf(content: string | { text: string }[]): string {
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

function toMessages(body: ChatCompletionRequest): ChatMessage[] {
  // "developer" is OpenAI's newer name for the system role.
  return body.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: textOf(m.content) }));
}

function toResponseFormat(format: ChatCompletionRequest['response_format']): ResponseFormat | undefined {
  if (!format || format.type !== 'json_schema') return format;
  return { type: 'json_schema', schema: format.json_schema.schema ?? {} };
}

function toChatRequest(body: ChatCompletionRequest, request: FastifyRequest, index: number): ChatRequest {
  return {
    model: body.model,
    messages: toMessages(body),
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    sampling: samplingFrom(body, index),
    responseFormat: toResponseFormat(body.response_format),
    schedule: scheduleOf(request, body.user),
    signal: request.abortSignal,
  };
}

/** POST /v1/chat/completions, streaming or not. */
export function registerChatCompletions(app: FastifyInstance, provider: Provider): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseBody(chatCompletionRequestSchema, request.body);
    const n = body.n ?? 1;
    request.accounting.model = body.model;
    request.accounting.stream = body.stream === true;
    request.accounting.promptText = JSON.stringify(body.messages);
    const start = (index: number) => provider.chat(toChatRequest(body, request, index));
    const id = newId('chatcmpl');
    const created = unixSeconds();

    if (!body.stream) {
      const texts: string[] = Array.from({ length: n }, () => '');
      const finishReasons: FinishReason[] = [];
      const usage = await runChoices(request, n, start, {
        onText: (index, text) => (texts[index] += text),
        onEnd: (index, reason) => (finishReasons[index] = reason),
      });
      return reply.send({
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: texts.map((content, index) => ({
          index,
          message: { role: 'assistant', content, refusal: null },
          finish_reason: finishReasons[index],
          logprobs: null,
        })),
        usage: openaiUsage(usage),
      });
    }

    const stream = openChunkStream(request, reply, {
      id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      includeUsage: body.stream_options?.include_usage === true,
    });
    const started = new Set<number>();
    const delta = (index: number, content: string) => {
      const first = !started.has(index);
      started.add(index);
      stream.send([{ index, delta: first ? { role: 'assistant', content } : { content }, finish_reason: null, logprobs: null }]);
    };
    await stream.run(() =>
      runChoices(request, n, start, {
        onStart: stream.open,
        onText: delta,
        onEnd: (index, reason) => {
          if (!started.has(index)) delta(index, '');
          stream.send([{ index, delta: {}, finish_reason: reason, logprobs: null }]);
        },
      }),
    );
    return reply;
  });
}
