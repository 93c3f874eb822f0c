import type { FastifyReply, FastifyRequest } from 'fastify';
import { anthropicErrorBody } from '../../../errors/index.js';
import { SseWriter } from '../../sse.js';
import { streamFailed } from '../../streamErrors.js';
import type { ChoicesUsage } from '../../runChoices.js';
import { messageBody, type MessageEnvelope } from './message.js';
import type { MessageEnd } from './translate.js';

/** Anthropic's SSE stream of one message with one text block: message_start (with the input
 *  tokens), content_block_start, ping, content_block_delta…, content_block_stop, message_delta
 *  (stop reason and output tokens), message_stop. Every event has an `event:` line naming it
 *  and repeats the name as `type` in its data. */
export function openMessageStream(request: FastifyRequest, reply: FastifyReply, envelope: MessageEnvelope) {
  const sse = new SseWriter(reply);
  const send = (type: string, fields: object = {}) => sse.event(type, { type, ...fields });
  return {
    /** Sends the headers and the opening events; called once the generation is under way. */
    start(inputTokens: number): void {
      sse.open();
      send('message_start', { message: messageBody(envelope, [], null, { promptTokens: inputTokens, completionTokens: 0 }) });
      send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      send('ping');
    },
    text: (text: string) => send('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
    /** Runs the generation, then sends the closing events, or an `error` event if it fails after
     *  the stream opened (before that, the error handler answers in JSON). */
    async run(generate: () => Promise<{ end: MessageEnd; usage: ChoicesUsage }>): Promise<void> {
      try {
        const { end, usage } = await generate();
        send('content_block_stop', { index: 0 });
        send('message_delta', { delta: end, usage: { output_tokens: usage.completionTokens } });
        send('message_stop');
        sse.end();
      } catch (error) {
        if (!reply.sent) throw error;
        streamFailed(request, sse, error, (apiError) => sse.event('error', anthropicErrorBody(apiError)));
      }
    },
  };
}
