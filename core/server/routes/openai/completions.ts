import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CompletionRequest, FinishReason, Provider } from '../../../providers/index.js';
import { newId, unixSeconds } from '../../ids.js';
import { scheduleOf } from '../../schedule.js';
import { parseBody } from '../../validation.js';
import { runChoices } from '../../runChoices.js';
import { openaiUsage } from './choices.js';
import { samplingFrom } from './sampling.js';
import { completionRequestSchema, type CompletionRequestBody } from './schemas.js';
import { openChunkStream } from './chunkStream.js';
import { cacheAlwaysOf, cacheBypassOf, sendGeneration } from '../../cacheControl.js';

/** Legacy `prompt` may hold several prompts (strings or token arrays); each gets n choices. */
function promptsOf(prompt: CompletionRequestBody['prompt']): (string | number[])[] {
  if (typeof prompt === 'string') return [prompt];
  if (prompt.every((item) => typeof item === 'number')) return [prompt as number[]];
  return prompt as (string | number[])[];
}

function toCompletionRequest(body: CompletionRequestBody, prompt: string | number[], request: FastifyRequest, index: number): CompletionRequest {
  return {
    model: body.model,
    prompt,
    // OpenAI's legacy endpoint defaults to 16 tokens.
    maxTokens: body.max_tokens ?? 16,
    sampling: samplingFrom(body, index),
    schedule: scheduleOf(request, body.user),
    signal: request.abortSignal,
    cacheBypass: cacheBypassOf(request),
    cacheAlways: cacheAlwaysOf(request),
    stream: body.stream === true,
  };
}

/** POST /v1/completions (the legacy prompt API), streaming or not. */
export function registerCompletions(app: FastifyInstance, provider: Provider): void {
  app.post('/v1/completions', async (request, reply) => {
    const body = parseBody(completionRequestSchema, request.body);
    const prompts = promptsOf(body.prompt);
    const perPrompt = body.n ?? 1;
    const total = prompts.length * perPrompt;
    request.accounting.model = body.model;
    request.accounting.stream = body.stream === true;
    request.accounting.prompt = body.prompt;
    // Choice i answers prompt floor(i / n), as OpenAI orders them.
    const promptOf = (index: number) => prompts[Math.floor(index / perPrompt)]!;
    const echoOf = (index: number) => {
      const prompt = promptOf(index);
      return body.echo && typeof prompt === 'string' ? prompt : '';
    };
    let promptTokens = 0;
    const start = async (index: number) => {
      const generation = await provider.complete(toCompletionRequest(body, promptOf(index), request, index % perPrompt));
      if (index % perPrompt === 0) promptTokens += generation.promptTokens;
      return generation;
    };
    const id = newId('cmpl');
    const created = unixSeconds();
    const usageOf = (completionTokens: number) => openaiUsage({ promptTokens, completionTokens });

    if (!body.stream) {
      const texts = Array.from({ length: total }, (_, index) => echoOf(index));
      const finishReasons: FinishReason[] = [];
      const usage = await runChoices(request, total, start, {
        onText: (index, text) => (texts[index] += text),
        onEnd: (index, reason) => (finishReasons[index] = reason),
      });
      request.accounting.promptTokens = promptTokens;
      return sendGeneration(request, reply, {
        id,
        object: 'text_completion',
        created,
        model: body.model,
        choices: texts.map((text, index) => ({ text, index, logprobs: null, finish_reason: finishReasons[index] })),
        usage: usageOf(usage.completionTokens),
      });
    }

    const stream = openChunkStream(request, reply, {
      id,
      object: 'text_completion',
      created,
      model: body.model,
      includeUsage: body.stream_options?.include_usage === true,
    });
    const text = (index: number, value: string, finishReason: FinishReason | null = null) =>
      stream.send([{ text: value, index, logprobs: null, finish_reason: finishReason }]);
    const echoed = new Set<number>();
    const echoOnce = (index: number) => {
      if (echoed.has(index)) return;
      echoed.add(index);
      if (echoOf(index)) text(index, echoOf(index));
    };
    await stream.run(async () => {
      const usage = await runChoices(request, total, start, {
        onStart: stream.open,
        onText: (index, value) => {
          echoOnce(index);
          text(index, value);
        },
        onEnd: (index, reason) => {
          echoOnce(index);
          text(index, '', reason);
        },
      });
      request.accounting.promptTokens = promptTokens;
      return { promptTokens, completionTokens: usage.completionTokens };
    });
    return reply;
  });
}
