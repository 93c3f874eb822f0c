import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Generation, Provider, ToolCall } from '../../../providers/index.js';
import { newId } from '../../ids.js';
import { sendGeneration } from '../../cacheControl.js';
import { parseBody } from '../../validation.js';
import { runChoices, type ChoicesUsage } from '../../runChoices.js';
import { contentBlocks, messageBody } from './message.js';
import { openMessageStream } from './messageStream.js';
import { messagesRequestSchema } from './schemas.js';
import { messageEnd, toChatRequest, type MessageEnd } from './translate.js';

/** Runs the one generation of a message (runChoices with n = 1 reserves the tokens and fills the
 *  request's accounting, as for OpenAI's routes) and resolves with how it ended. */
async function generateMessage(
  request: FastifyRequest,
  start: () => Promise<Generation>,
  handlers: { onStart?(): void; onText(text: string): void; onToolCall(call: ToolCall): void },
): Promise<{ end: MessageEnd; usage: ChoicesUsage }> {
  let end = messageEnd('stop');
  const usage = await runChoices(request, 1, start, {
    onStart: handlers.onStart,
    onText: (_index, text) => handlers.onText(text),
    onToolCall: (_index, call) => handlers.onToolCall(call),
    onEnd: (_index, finishReason, stopSequence) => (end = messageEnd(finishReason, stopSequence)),
  });
  return { end, usage };
}

/** POST /v1/messages, streaming or not. */
export function registerMessages(app: FastifyInstance, provider: Provider): void {
  app.post('/v1/messages', async (request, reply) => {
    const body = parseBody(messagesRequestSchema, request.body);
    request.accounting.model = body.model;
    request.accounting.stream = body.stream === true;
    request.accounting.prompt = { system: body.system, messages: body.messages };
    const chatRequest = toChatRequest(body, request);
    const start = () => provider.chat(chatRequest);
    const envelope = { id: newId('msg', '_'), model: body.model };

    if (!body.stream) {
      let text = '';
      const calls: ToolCall[] = [];
      const { end, usage } = await generateMessage(request, start, { onText: (chunk) => (text += chunk), onToolCall: (call) => calls.push(call) });
      return sendGeneration(request, reply, messageBody(envelope, contentBlocks(text, calls), end, usage));
    }

    const offersTools = (chatRequest.tools?.length ?? 0) > 0 && chatRequest.toolChoice !== 'none';
    const stream = openMessageStream(request, reply, envelope, { textBlockFirst: !offersTools });
    await stream.run(() =>
      generateMessage(request, start, {
        // runChoices has counted the prompt before the first event arrives.
        onStart: () => stream.start(request.accounting.promptTokens ?? 0),
        onText: stream.text,
        onToolCall: stream.toolUse,
      }),
    );
    return reply;
  });
}
