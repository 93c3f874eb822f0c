import type { FastifyInstance } from 'fastify';
import type { Provider, ProviderModel } from '../../../providers/index.js';
import { modelAllowed } from '../../../auth/index.js';
import { modelNotFound } from '../../../runtimes/llama/modelFiles.js';

function toOpenAiModel(model: ProviderModel) {
  return { id: model.id, object: 'model', created: model.created, owned_by: model.ownedBy };
}

/** GET /v1/models and GET /v1/models/{id}. */
export function registerModels(app: FastifyInstance, provider: Provider): void {
  // A key sees only the models it may use.
  app.get('/v1/models', async (request) => ({
    object: 'list',
    data: provider
      .listModels()
      .filter((model) => !request.apiKey || modelAllowed(request.apiKey.models, model.id))
      .map(toOpenAiModel),
  }));
  app.get<{ Params: { id: string } }>('/v1/models/*', async (request) => {
    // A wildcard, not :id, because model ids may contain slashes (e.g. "org/model").
    const id = (request.params as Record<string, string>)['*']!;
    const model = provider.listModels().find((m) => m.id === id);
    if (!model) throw modelNotFound(id);
    return toOpenAiModel(model);
  });
}
