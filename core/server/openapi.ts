import { fastifySwagger } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { z } from 'zod';
import {
  createVectorStoreFileSchema,
  createVectorStoreSchema,
  listFilesQuerySchema,
  listQuerySchema,
  listVectorStoreFilesQuerySchema,
  searchSchema,
  updateVectorStoreFileSchema,
  updateVectorStoreSchema,
} from '../rag/requests.js';
import { countTokensRequestSchema, messagesRequestSchema } from './routes/anthropic/schemas.js';
import { chatCompletionRequestSchema, completionRequestSchema, embeddingRequestSchema } from './routes/openai/schemas.js';

/** The OpenAPI document at /openapi.json and its browsable docs at /docs.
 *
 *  The routes validate with zod (parseBody), which gives the provider-shaped errors. The OpenAPI
 *  operations are the same zod schemas turned into JSON Schema (z.toJSONSchema), kept under the
 *  documentation-only route config key `openapi` and handed to @fastify/swagger by its
 *  `transform` hook. No route gets a fastify `schema`: fastify would otherwise compile it with
 *  ajv and validate every request a second time (and serialize responses with it), with
 *  errors in fastify's shape, not OpenAI's. Routes that carry no docs (added later, e.g.
 *  Responses or batches) still appear, with a generic operation. */

type JsonSchema = Record<string, unknown>;

export interface RouteDocsInput {
  tags?: string[];
  summary?: string;
  description?: string;
  body?: z.ZodType | JsonSchema;
  query?: z.ZodType | JsonSchema;
  params?: JsonSchema;
}

/** What @fastify/swagger reads from a route's `schema` (here kept in `config.openapi`). */
export interface OperationDocs {
  tags?: string[];
  summary?: string;
  description?: string;
  body?: JsonSchema;
  querystring?: JsonSchema;
  params?: JsonSchema;
  security?: Record<string, string[]>[];
  hide?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Documentation only: read by the OpenAPI generator, never used to validate. */
    openapi?: OperationDocs;
  }
}

/** Replaces `#/$defs/…` references by their definitions, so each operation's schema stands
 *  alone in the document (a `$defs` inside a path item is not resolvable from the OpenAPI root).
 *  A recursive definition (nested filters) is inlined once and its inner recursion left open. */
function inlineDefs(node: unknown, defs: Record<string, unknown>, open: ReadonlySet<string> = new Set()): unknown {
  if (Array.isArray(node)) return node.map((item) => inlineDefs(item, defs, open));
  if (typeof node !== 'object' || node === null) return node;
  const ref = (node as { $ref?: unknown }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/$defs/')) {
    const name = ref.slice('#/$defs/'.length);
    if (open.has(name)) return { description: 'The same shape, nested.' };
    return inlineDefs(defs[name], defs, new Set([...open, name]));
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, inlineDefs(value, defs, open)]));
}

/** JSON Schema of a zod schema as a client sends it (io: input, so defaults are optional). */
export function jsonSchemaOf(schema: z.ZodType | JsonSchema): JsonSchema {
  if (!(schema instanceof z.ZodType)) return schema;
  const { $schema: _dialect, $defs, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', cycles: 'ref', reused: 'inline' }) as JsonSchema;
  return $defs ? (inlineDefs(json, $defs as Record<string, unknown>) as JsonSchema) : json;
}

/** An operation whose body and query schemas are converted when the document is first built
 *  (GET /openapi.json), not at start-up: converting them all cost every start ~25 ms (measured). */
function operation(docs: RouteDocsInput): OperationDocs {
  const operation: OperationDocs = {
    ...(docs.tags ? { tags: docs.tags } : {}),
    ...(docs.summary ? { summary: docs.summary } : {}),
    ...(docs.description ? { description: docs.description } : {}),
    ...(docs.params ? { params: docs.params } : {}),
  };
  const convertOnRead = (key: 'body' | 'querystring', schema: z.ZodType | JsonSchema) => {
    let converted: JsonSchema | undefined;
    Object.defineProperty(operation, key, { enumerable: true, get: () => (converted ??= jsonSchemaOf(schema)) });
  };
  if (docs.body) convertOnRead('body', docs.body);
  if (docs.query) convertOnRead('querystring', docs.query);
  return operation;
}

/** Route options' `config` that documents the route: `app.get(url, { config: routeDocs({...}) }, handler)`. */
export function routeDocs(docs: RouteDocsInput): { openapi: OperationDocs } {
  return { openapi: operation(docs) };
}

/** Docs of the routes registered before this module existed, by "METHOD url": kept here, from the
 *  routes' own zod schemas, so the route modules stay as they were. */
const catalog: Record<string, RouteDocsInput> = {
  'GET /healthz': { tags: ['health'], summary: 'The process is alive (no key needed)' },
  'GET /readyz': { tags: ['health'], summary: 'The server can serve generations (no key needed)' },
  'GET /metrics': { tags: ['health'], summary: 'Prometheus metrics (admin key or the metrics token)' },
  'GET /v1/models': { tags: ['openai'], summary: 'List models' },
  'GET /v1/models/*': { tags: ['openai'], summary: 'Retrieve a model' },
  'POST /v1/chat/completions': { tags: ['openai'], summary: 'Create a chat completion', body: chatCompletionRequestSchema },
  'POST /v1/completions': { tags: ['openai'], summary: 'Create a completion (legacy)', body: completionRequestSchema },
  'POST /v1/embeddings': { tags: ['openai'], summary: 'Create embeddings', body: embeddingRequestSchema },
  'POST /v1/messages': { tags: ['anthropic'], summary: 'Create a message (Anthropic Messages API)', body: messagesRequestSchema },
  'POST /v1/messages/count_tokens': { tags: ['anthropic'], summary: 'Count the tokens of a message', body: countTokensRequestSchema },
  'POST /v1/files': { tags: ['files'], summary: 'Upload a file (multipart/form-data: file, purpose)' },
  'GET /v1/files': { tags: ['files'], summary: 'List files', query: listFilesQuerySchema },
  'GET /v1/files/:id': { tags: ['files'], summary: 'Retrieve a file' },
  'GET /v1/files/:id/content': { tags: ['files'], summary: 'Download a file’s content' },
  'DELETE /v1/files/:id': { tags: ['files'], summary: 'Delete a file' },
  'POST /v1/vector_stores': { tags: ['vector stores'], summary: 'Create a vector store', body: createVectorStoreSchema },
  'GET /v1/vector_stores': { tags: ['vector stores'], summary: 'List vector stores', query: listQuerySchema },
  'GET /v1/vector_stores/:id': { tags: ['vector stores'], summary: 'Retrieve a vector store' },
  'POST /v1/vector_stores/:id': { tags: ['vector stores'], summary: 'Modify a vector store', body: updateVectorStoreSchema },
  'DELETE /v1/vector_stores/:id': { tags: ['vector stores'], summary: 'Delete a vector store' },
  'POST /v1/vector_stores/:id/files': { tags: ['vector stores'], summary: 'Attach a file to a vector store', body: createVectorStoreFileSchema },
  'GET /v1/vector_stores/:id/files': { tags: ['vector stores'], summary: 'List a vector store’s files', query: listVectorStoreFilesQuerySchema },
  'GET /v1/vector_stores/:id/files/:file_id': { tags: ['vector stores'], summary: 'Retrieve a vector store file' },
  'POST /v1/vector_stores/:id/files/:file_id': { tags: ['vector stores'], summary: 'Update a vector store file’s attributes', body: updateVectorStoreFileSchema },
  'DELETE /v1/vector_stores/:id/files/:file_id': { tags: ['vector stores'], summary: 'Remove a file from a vector store' },
  'POST /v1/vector_stores/:id/search': { tags: ['vector stores'], summary: 'Search a vector store', body: searchSchema },
};
const catalogDocs = new Map(Object.entries(catalog).map(([route, docs]) => [route, operation(docs)]));

/** A route nobody documented: its tag from its path, any JSON body. */
function genericDocs(method: string, url: string): OperationDocs {
  const tag = url.startsWith('/admin/') ? 'admin' : url.startsWith('/v1/') ? 'openai' : 'other';
  const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  return { tags: [tag], summary: `${method} ${url}`, ...(withBody ? { body: { type: 'object', additionalProperties: true } } : {}) };
}

const unauthenticated = new Set(['/healthz', '/readyz']);

function docsFor(route: RouteOptions): OperationDocs {
  const method = Array.isArray(route.method) ? route.method[0]! : route.method;
  if (method === 'HEAD') return { hide: true };
  const docs = route.config?.openapi ?? catalogDocs.get(`${method} ${route.url}`) ?? genericDocs(method, route.url);
  return unauthenticated.has(route.url) ? { ...docs, security: [] } : docs;
}

/** Installs the OpenAPI generator; call before any route is registered (it records routes as
 *  they are added). */
export function installOpenApi(app: FastifyInstance, version: string): void {
  // Called directly rather than through app.register: registered plugins load only at ready(),
  // after buildServer has added its routes, and the generator must see every route as it is added.
  fastifySwagger(
    app,
    {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'llmsvc', version, description: 'OpenAI- and Anthropic-compatible API, llmsvc extensions and the admin API.' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An llmsvc API key (admin scope for /admin and /metrics)' } } },
        security: [{ bearer: [] }],
      },
      transform: ({ schema, url, route }) => ({ schema: (schema as OperationDocs | undefined)?.hide ? schema : (docsFor(route) as never), url }),
    },
    (error) => {
      if (error) throw error;
    },
  );
  app.get('/openapi.json', { config: { openapi: { hide: true } } }, async () => app.swagger());
  // swagger-ui's assets come from the package (no CDN: air-gapped installs); no validator badge,
  // which would call validator.swagger.io. Called from a plain plugin: registered directly, its
  // declared dependency on a *registered* @fastify/swagger would fail (the generator was
  // installed by a direct call above).
  const registerUi = swaggerUi as unknown as (instance: FastifyInstance, options: object) => Promise<void>;
  void app.register(async (docs) => registerUi(docs, { routePrefix: '/docs', uiConfig: { validatorUrl: null, deepLinking: true } }));
}
