import type { FastifyInstance } from 'fastify';
import type { Provider } from '../../../providers/index.js';
import { registerCountTokens } from './countTokens.js';
import { registerMessages } from './messages.js';

/** The Anthropic-compatible API: POST /v1/messages and /v1/messages/count_tokens, over the same
 *  provider as the OpenAI routes. The `anthropic-version` header is accepted whatever its value
 *  and is not required: the Anthropic SDKs always send it, and a plain curl without it should
 *  still work. The API shape does not depend on it. */
export function registerAnthropicRoutes(app: FastifyInstance, provider: Provider): void {
  registerMessages(app, provider);
  registerCountTokens(app, provider);
}
