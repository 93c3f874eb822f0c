import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChatRequest, FinishReason, Provider } from '../../../../providers/index.js';
import type { ResponseStore } from '../../../../store/index.js';
import { sendGeneration } from '../../../cacheControl.js';
import { newId, unixSeconds } from '../../../ids.js';
import { runChoices } from '../../../runChoices.js';
import { parseBody } from '../../../validation.js';
import { OutputBuilder, responseObject, statusOf, type OutputListener, type ResponseEnvelope, type ResponseObject } from './output.js';
import { createResponseSchema, inputItemsQuerySchema } from './schema.js';
import { findReadable, historyOf, inputItemsPage, requirePrevious, responseNotFound, saveResponse, toStoredItem } from './store.js';
import { openResponseStream } from './stream.js';
import { checkCallOutputs, inputItems, toChatRequest } from './translate.js';

/** The ResponseErrorCode a failed Response carries (OpenAI's list is short). */
function responseErrorCode(status: number): string {
  return status === 429 ? 'rate_limit_exceeded' : status < 500 ? 'invalid_prompt' : 'server_error';
}

/** Runs the response's one generation through the chat pipeline (runChoices with n = 1 reserves
 *  the tokens and fills the request's accounting, as for chat completions) and builds its output. */
async function generate(
  request: FastifyRequest,
  provider: Provider,
  chatRequest: ChatRequest,
  envelope: ResponseEnvelope,
  handlers: { onStart?(): void; listener?: OutputListener },
): Promise<ResponseObject> {
  const builder = new OutputBuilder(handlers.listener);
  let finishReason: FinishReason = 'stop';
  const usage = await runChoices(request, 1, () => provider.chat(chatRequest), {
    onStart: handlers.onStart,
    onText: (_index, text) => builder.text(text),
    onToolCall: (_index, call) => builder.toolCall(call),
    onEnd: (_index, reason) => (finishReason = reason),
  });
  const status = statusOf(finishReason);
  builder.finish(status);
  return responseObject(envelope, { status, output: builder.items, usage, completedAt: status === 'completed' ? unixSeconds() : null });
}

/** OpenAI's Responses API over the chat pipeline: POST /v1/responses (streaming or not),
 *  GET/DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items. */
export function registerResponses(app: FastifyInstance, provider: Provider, repository: ResponseStore): void {
  app.post('/v1/responses', async (request, reply) => {
    const body = parseBody(createResponseSchema, request.body);
    request.accounting.model = body.model;
    request.accounting.stream = body.stream === true;
    request.accounting.prompt = { instructions: body.instructions, input: body.input };
    const previous = body.previous_response_id ? await requirePrevious(repository, body.previous_response_id, request) : undefined;
    const input = inputItems(body.input).map(toStoredItem);
    const history = previous ? historyOf(previous) : [];
    const context = [...history, ...input];
    checkCallOutputs(context, history.length);
    const chatRequest = toChatRequest(body, context, request);
    const envelope: ResponseEnvelope = { id: newId('resp', '_'), createdAt: unixSeconds(), body, store: body.store ?? true };
    // Stored before the client hears that it is done, so a follow-up can name it at once.
    const keep = async (response: ResponseObject) => {
      if (envelope.store) await saveResponse(repository, request, response, context, input.length);
      return response;
    };

    if (!body.stream) {
      const response = await keep(await generate(request, provider, chatRequest, envelope, {}));
      return sendGeneration(request, reply, response);
    }

    const stream = openResponseStream(request, reply);
    const inProgress = () => responseObject(envelope, { status: 'in_progress', output: [], usage: null });
    await stream.run(
      async () => {
        const response = await generate(request, provider, chatRequest, envelope, {
          onStart: () => stream.start(inProgress()),
          listener: stream.listener,
        });
        stream.end(await keep(response));
      },
      (error) => responseObject(envelope, { status: 'failed', output: [], usage: null, error: { code: responseErrorCode(error.status), message: error.message } }),
    );
    return reply;
  });

  app.get<{ Params: { id: string } }>('/v1/responses/:id', async (request) => {
    const stored = await findReadable(repository, request.params.id, request);
    if (!stored) throw responseNotFound(request.params.id);
    return stored.response;
  });

  app.delete<{ Params: { id: string } }>('/v1/responses/:id', async (request) => {
    const stored = await findReadable(repository, request.params.id, request);
    if (!stored) throw responseNotFound(request.params.id);
    await repository.delete(stored.id);
    return { id: stored.id, object: 'response', deleted: true };
  });

  app.get<{ Params: { id: string } }>('/v1/responses/:id/input_items', async (request) => {
    const query = parseBody(inputItemsQuerySchema, request.query);
    const stored = await findReadable(repository, request.params.id, request);
    if (!stored) throw responseNotFound(request.params.id);
    return inputItemsPage(stored, query);
  });
}
