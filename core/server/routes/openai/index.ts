import type { FastifyInstance } from 'fastify';
import type { Provider } from '../../../providers/index.js';
import type { VectorStoreService } from '../../../rag/index.js';
import type { ResponseStore } from '../../../store/index.js';
import { registerChatCompletions } from './chatCompletions.js';
import { registerCompletions } from './completions.js';
import { registerEmbeddings } from './embeddings.js';
import { registerModels } from './models.js';
import { registerResponses } from './responses/index.js';

/** The OpenAI-compatible API under /v1. */
export function registerOpenAiRoutes(app: FastifyInstance, provider: Provider, vectorStores: VectorStoreService | undefined, responses: ResponseStore): void {
  registerModels(app, provider);
  registerChatCompletions(app, provider, vectorStores);
  registerCompletions(app, provider);
  registerEmbeddings(app, provider);
  registerResponses(app, provider, responses);
}
