import type { FastifyReply, FastifyRequest } from 'fastify';
import { openaiErrorBody } from '../../../errors/index.js';
import { SseWriter } from '../../sse.js';
import { streamFailed } from '../../streamErrors.js';
import type { ChoicesUsage } from '../../runChoices.js';
import { openaiUsage } from './choices.js';

export interface ChunkStreamOptions {
  id: string;
  /** `chat.completion.chunk` or `text_completion`. */
  object: string;
  created: number;
  model: string;
  /** stream_options.include_usage: every chunk has `usage: null`, and a last chunk has the usage. */
  includeUsage: boolean;
  /** Fields only the first chunk carries (llmsvc's retrieval `citations`). */
  firstChunkExtras?: object;
}

/** An OpenAI SSE stream of chunks that share one envelope (id, object, created, model). */
export function openChunkStream(request: FastifyRequest, reply: FastifyReply, options: ChunkStreamOptions) {
  const sse = new SseWriter(reply);
  let extras = options.firstChunkExtras;
  const envelope = (choices: object[], usage: object | null = null) => ({
    id: options.id,
    object: options.object,
    created: options.created,
    model: options.model,
    choices,
    ...(options.includeUsage ? { usage } : {}),
  });
  return {
    /** Sends the headers; called once the request passed validation. */
    open: () => sse.open(),
    send: (choices: object[]) => {
      sse.data({ ...envelope(choices), ...extras });
      extras = undefined;
    },
    /** Runs the generation, then sends the usage chunk and `[DONE]`, or an error event if it
     *  fails after the stream opened (before that, the error handler answers in JSON). */
    async run(generate: () => Promise<ChoicesUsage>): Promise<void> {
      try {
        const usage = await generate();
        if (options.includeUsage) sse.data(envelope([], openaiUsage(usage)));
        sse.end('data: [DONE]\n\n');
      } catch (error) {
        if (!reply.sent) throw error;
        streamFailed(request, sse, error, (apiError) => sse.data(openaiErrorBody(apiError)));
      }
    },
  };
}
