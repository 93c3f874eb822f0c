import type { FastifyInstance } from 'fastify';
import type { Provider } from '../../../providers/index.js';
import { parseBody } from '../../validation.js';
import { countTokensRequestSchema } from './schemas.js';
import { toChatPrompt } from './translate.js';

/** POST /v1/messages/count_tokens: the exact prompt tokens /v1/messages would evaluate for the
 *  same system and messages. Counting generates nothing, so it reserves and records no tokens
 *  (as at Anthropic, it is free); it still counts as a request. */
export function registerCountTokens(app: FastifyInstance, provider: Provider): void {
  app.post('/v1/messages/count_tokens', async (request, reply) => {
    const body = parseBody(countTokensRequestSchema, request.body);
    request.accounting.model = body.model;
    // Tools count: the chat template documents them in the prompt. (Provider.countChatTokens
    // declares only model and messages; the local provider reads the tools too.)
    const prompt = toChatPrompt(body);
    const inputTokens = await provider.countChatTokens({ ...prompt, signal: request.abortSignal });
    return reply.send({ input_tokens: inputTokens });
  });
}
