import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from '../../../../errors/index.js';
import { SseWriter } from '../../../sse.js';
import { streamFailed } from '../../../streamErrors.js';
import { outputText, type FunctionCallOutput, type MessageOutput, type OutputListener, type ResponseObject } from './output.js';

/** The Responses API's server-sent events, as OpenAI documents them: every event has an
 *  `event:` line naming it, repeats the name as `type`, and carries a `sequence_number` that
 *  counts from 0. A response streams response.created, response.in_progress, then per output
 *  item output_item.added … output_item.done (a message's text as content_part.added,
 *  output_text.delta…, output_text.done, content_part.done; a call's arguments as
 *  function_call_arguments.delta and .done), then response.completed (or response.incomplete).
 *  A failure after the stream opened ends it with `error` and response.failed. */
export function openResponseStream(request: FastifyRequest, reply: FastifyReply) {
  const sse = new SseWriter(reply);
  let sequence = 0;
  const send = (type: string, fields: object) => sse.event(type, { type, ...fields, sequence_number: sequence++ });

  const listener: OutputListener = {
    messageOpened(item: MessageOutput, outputIndex: number) {
      send('response.output_item.added', { output_index: outputIndex, item: { ...item, content: [] } });
      send('response.content_part.added', { item_id: item.id, output_index: outputIndex, content_index: 0, part: outputText('') });
    },
    textAdded(item: MessageOutput, outputIndex: number, delta: string) {
      send('response.output_text.delta', { item_id: item.id, output_index: outputIndex, content_index: 0, delta, logprobs: [] });
    },
    messageClosed(item: MessageOutput, outputIndex: number) {
      const part = item.content[0]!;
      send('response.output_text.done', { item_id: item.id, output_index: outputIndex, content_index: 0, text: part.text, logprobs: [] });
      send('response.content_part.done', { item_id: item.id, output_index: outputIndex, content_index: 0, part });
      send('response.output_item.done', { output_index: outputIndex, item });
    },
    functionCalled(item: FunctionCallOutput, outputIndex: number) {
      send('response.output_item.added', { output_index: outputIndex, item: { ...item, status: 'in_progress', arguments: '' } });
      send('response.function_call_arguments.delta', { item_id: item.id, output_index: outputIndex, delta: item.arguments });
      send('response.function_call_arguments.done', { item_id: item.id, output_index: outputIndex, name: item.name, arguments: item.arguments });
      send('response.output_item.done', { output_index: outputIndex, item });
    },
  };

  return {
    listener,
    /** Sends the headers and the opening events; called once the generation is under way. */
    start(response: ResponseObject): void {
      sse.open();
      send('response.created', { response });
      send('response.in_progress', { response });
    },
    /** The final event: response.completed, or response.incomplete when the token limit cut it. */
    end(response: ResponseObject): void {
      send(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
      sse.end();
    },
    /** Runs the generation; if it fails after the stream opened, ends the stream with an `error`
     *  event and response.failed (before that, the error handler answers in JSON). */
    async run(generate: () => Promise<void>, failed: (error: ApiError) => ResponseObject): Promise<void> {
      try {
        await generate();
      } catch (error) {
        if (!reply.sent) throw error;
        streamFailed(request, sse, error, (apiError) => {
          send('error', { code: apiError.openaiCode, message: apiError.message, param: apiError.param });
          send('response.failed', { response: failed(apiError) });
        });
      }
    },
  };
}
