import type { FastifyReply, FastifyRequest } from 'fastify';
import { anthropicErrorBody } from '../../../errors/index.js';
import type { ToolCall } from '../../../providers/index.js';
import { SseWriter } from '../../sse.js';
import { streamFailed } from '../../streamErrors.js';
import type { ChoicesUsage } from '../../runChoices.js';
import { anthropicUsage, messageBody, type MessageEnvelope } from './message.js';
import { toolUseBlock } from './tools.js';
import type { MessageEnd } from './translate.js';

export interface MessageStreamOptions {
  /** Open the text block before any output, as a message without tools always has one. With
   *  tools offered the text block opens on the first text, so that a message that only calls
   *  tools has only its tool_use blocks, as when it is not streamed. */
  textBlockFirst: boolean;
}

/** Anthropic's SSE stream of one message: message_start (with the input tokens), the content
 *  blocks (content_block_start, content_block_delta…, content_block_stop: text, then a tool_use
 *  block per call with its input as one input_json_delta), a ping after the opening, message_delta
 *  (stop reason and tokens), message_stop. Every event has an `event:` line naming it and
 *  repeats the name as `type` in its data. */
export function openMessageStream(request: FastifyRequest, reply: FastifyReply, envelope: MessageEnvelope, options: MessageStreamOptions = { textBlockFirst: true }) {
  const sse = new SseWriter(reply);
  const send = (type: string, fields: object = {}) => sse.event(type, { type, ...fields });
  /** The index of the block being written (or of the next one, when none is open). */
  let blockIndex = 0;
  let textOpen = false;
  const openText = () => {
    send('content_block_start', { index: blockIndex, content_block: { type: 'text', text: '' } });
    textOpen = true;
  };
  const closeText = () => {
    send('content_block_stop', { index: blockIndex++ });
    textOpen = false;
  };
  return {
    /** Sends the headers and the opening events; called once the generation is under way. */
    start(inputTokens: number): void {
      sse.open();
      send('message_start', { message: messageBody(envelope, [], null, { promptTokens: inputTokens, completionTokens: 0 }) });
      if (options.textBlockFirst) openText();
      send('ping');
    },
    text(text: string): void {
      if (!textOpen) openText();
      send('content_block_delta', { index: blockIndex, delta: { type: 'text_delta', text } });
    },
    toolUse(call: ToolCall): void {
      if (textOpen) closeText();
      const { input, ...block } = toolUseBlock(call);
      send('content_block_start', { index: blockIndex, content_block: { ...block, input: {} } });
      send('content_block_delta', { index: blockIndex, delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) } });
      send('content_block_stop', { index: blockIndex++ });
    },
    /** Runs the generation, then sends the closing events, or an `error` event if it fails after
     *  the stream opened (before that, the error handler answers in JSON). */
    async run(generate: () => Promise<{ end: MessageEnd; usage: ChoicesUsage }>): Promise<void> {
      try {
        const { end, usage } = await generate();
        // A message with no output still has its (empty) text block.
        if (!textOpen && blockIndex === 0) openText();
        if (textOpen) closeText();
        // input_tokens too: an upstream provider may learn the exact prompt size only at the end.
        send('message_delta', { delta: end, usage: anthropicUsage(usage) });
        send('message_stop');
        sse.end();
      } catch (error) {
        if (!reply.sent) throw error;
        streamFailed(request, sse, error, (apiError) => sse.event('error', anthropicErrorBody(apiError)));
      }
    },
  };
}
