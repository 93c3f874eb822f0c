import { z } from 'zod';
import { autoChunking, chunkingLimits } from './chunking.js';

/** Request bodies and queries of the Files and Vector Stores APIs, as OpenAI defines them (strict:
 *  an unknown argument is a 400 that names it), plus llmsvc's documented extensions:
 *  - `embedding_model` and `dimensions` when creating a vector store;
 *  - `ranking_options.ranker` values `hybrid` (the default), `vector` and `keyword` in a search. */

export const chunkingStrategySchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('auto') }).strict(),
    z
      .object({
        type: z.literal('static'),
        static: z
          .object({
            max_chunk_size_tokens: z.number().int().min(chunkingLimits.minChunkSizeTokens).max(chunkingLimits.maxChunkSizeTokens),
            chunk_overlap_tokens: z.number().int().min(0),
          })
          .strict()
          .refine((s) => s.chunk_overlap_tokens <= s.max_chunk_size_tokens / 2, {
            message: 'chunk_overlap_tokens must not exceed half of max_chunk_size_tokens',
            path: ['chunk_overlap_tokens'],
          }),
      })
      .strict(),
  ])
  .transform((strategy) => (strategy.type === 'auto' ? { ...autoChunking } : strategy.static));

const metadataSchema = z
  .record(z.string().max(64), z.string().max(512))
  .refine((metadata) => Object.keys(metadata).length <= 16, 'give at most 16 metadata keys')
  .nullable();

const attributesSchema = z
  .record(z.string().max(64), z.union([z.string().max(512), z.number(), z.boolean()]))
  .refine((attributes) => Object.keys(attributes).length <= 16, 'give at most 16 attributes')
  .nullable();

const expiresAfterSchema = z.object({ anchor: z.literal('last_active_at'), days: z.number().int().min(1).max(365) }).strict();

export const createVectorStoreSchema = z
  .object({
    name: z.string().optional(),
    description: z.string().optional(),
    file_ids: z.array(z.string()).max(500).optional(),
    chunking_strategy: chunkingStrategySchema.optional(),
    metadata: metadataSchema.optional(),
    expires_after: expiresAfterSchema.optional(),
    /** llmsvc: the model that embeds this store's chunks and queries (default: default_embedding_model). */
    embedding_model: z.string().min(1).optional(),
    /** llmsvc: the dimension the model must produce; a mismatch is a 400 at creation. */
    dimensions: z.number().int().positive().optional(),
    /** llmsvc: quantized first-pass search (int8 or bit vectors), always rescored exactly. */
    quantization: z.enum(['none', 'int8', 'bit']).optional(),
    /** llmsvc: ivf partitions make a quantized search sub-linear (needs int8 or bit). */
    partitioning: z.enum(['none', 'ivf']).optional(),
  })
  .strict();

export const updateVectorStoreSchema = z
  .object({
    name: z.string().nullish(),
    metadata: metadataSchema.optional(),
    expires_after: expiresAfterSchema.nullish(),
  })
  .strict();

export const createVectorStoreFileSchema = z
  .object({
    file_id: z.string().min(1),
    attributes: attributesSchema.optional(),
    chunking_strategy: chunkingStrategySchema.optional(),
  })
  .strict();

export const updateVectorStoreFileSchema = z.object({ attributes: attributesSchema }).strict();

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export type FilterInput =
  | { type: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'nin'; key: string; value: string | number | boolean | (string | number)[] }
  | { type: 'and' | 'or'; filters: FilterInput[] };

/** OpenAI's ComparisonFilter or CompoundFilter. */
export const filterSchema: z.ZodType<FilterInput> = z.lazy(() =>
  z.union([
    z
      .object({
        type: z.enum(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin']),
        key: z.string().min(1),
        value: z.union([scalar, z.array(z.union([z.string(), z.number()]))]),
      })
      .strict(),
    z.object({ type: z.enum(['and', 'or']), filters: z.array(filterSchema).min(1) }).strict(),
  ]),
);

/** OpenAI's rankers all mean llmsvc's default, hybrid search (there is no reranker to turn off). */
export const rankers = ['none', 'auto', 'default-2024-11-15', 'hybrid', 'vector', 'keyword'] as const;

export const searchSchema = z
  .object({
    query: z.union([z.string().trim().min(1, 'give a non-empty query'), z.array(z.string().trim().min(1)).min(1)]),
    rewrite_query: z.boolean().optional(),
    max_num_results: z.number().int().min(1).max(50).default(10),
    filters: filterSchema.optional(),
    ranking_options: z
      .object({
        ranker: z.enum(rankers).optional(),
        score_threshold: z.number().min(0).max(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** OpenAI's cursor pagination query. */
export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().min(1).optional(),
  before: z.string().min(1).optional(),
});

export const listFilesQuerySchema = listQuerySchema.extend({
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  purpose: z.string().min(1).optional(),
});

export const listVectorStoreFilesQuerySchema = listQuerySchema.extend({
  filter: z.enum(['in_progress', 'completed', 'failed', 'cancelled']).optional(),
});

/** Upload purposes OpenAI accepts. */
export const filePurposes = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;

export type CreateVectorStoreRequest = z.output<typeof createVectorStoreSchema>;
export type UpdateVectorStoreRequest = z.output<typeof updateVectorStoreSchema>;
export type CreateVectorStoreFileRequest = z.output<typeof createVectorStoreFileSchema>;
export type SearchRequest = z.output<typeof searchSchema>;
export type ListQuery = z.output<typeof listQuerySchema>;
