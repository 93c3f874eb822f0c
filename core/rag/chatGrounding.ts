import { z } from 'zod';
import { ApiError } from '../errors/index.js';
import type { ChatMessage } from '../providers/types.js';
import { filterSchema, rankers } from './requests.js';
import type { VectorStoreService } from './vectorStoreService.js';

/** llmsvc's extension of POST /v1/chat/completions for retrieval-augmented chat:
 *  `"retrieval": {"vector_store_ids": ["vs_…"], "max_num_results": 5, "filters": …, "ranking_options": …}`.
 *  The last user message is the query; the best chunks of all the stores are given to the model
 *  as numbered sources, and the answer carries them as `citations`. */
export const retrievalSchema = z
  .object({
    vector_store_ids: z.array(z.string().min(1)).min(1, 'name at least one vector store').max(10, 'search at most 10 vector stores'),
    max_num_results: z.number().int().min(1).max(50).default(5),
    filters: filterSchema.optional(),
    ranking_options: z
      .object({ ranker: z.enum(rankers).optional(), score_threshold: z.number().min(0).max(1).optional() })
      .strict()
      .optional(),
  })
  .strict();

export type RetrievalOptions = z.output<typeof retrievalSchema>;

/** One source given to the model, as the answer's `citations` list it. */
export interface Citation {
  /** The number the model cites it by: [1], [2], … */
  index: number;
  vector_store_id: string;
  file_id: string;
  filename: string;
  chunk_index: number;
  score: number;
  text: string;
}

function lastUserText(messages: ChatMessage[]): string {
  const text = messages.findLast((message) => message.role === 'user')?.content.trim();
  if (!text) throw new ApiError('LLMSVC_ERR_INVALID_PARAM', 'Retrieval searches with the last user message, and there is none with text. Add one.', 'messages');
  return text;
}

/** Searches every named store with the last user message and keeps the best chunks overall.
 *  `checkStoreModel` lets the caller refuse a store whose embedding model the API key may not use. */
export async function retrieveCitations(
  vectorStores: VectorStoreService,
  messages: ChatMessage[],
  options: RetrievalOptions,
  checkStoreModel: (model: string) => void,
  signal?: AbortSignal,
): Promise<Citation[]> {
  const query = lastUserText(messages);
  const found = await Promise.all(
    options.vector_store_ids.map(async (storeId) => {
      checkStoreModel((await vectorStores.getStoreRecord(storeId)).embeddingModel);
      const { hits } = await vectorStores.findChunks(
        storeId,
        { query, max_num_results: options.max_num_results, filters: options.filters, ranking_options: options.ranking_options },
        signal,
      );
      return hits.map((hit) => ({ storeId, hit }));
    }),
  );
  return found
    .flat()
    .sort((a, b) => b.hit.score - a.hit.score)
    .slice(0, options.max_num_results)
    .map(({ storeId, hit }, position) => ({
      index: position + 1,
      vector_store_id: storeId,
      file_id: hit.fileId,
      filename: hit.filename,
      chunk_index: hit.chunkIndex,
      score: hit.score,
      text: hit.text,
    }));
}

/** The conversation with the sources inserted as a system message after the caller's own
 *  system messages, telling the model to cite them by number. */
export function withSources(messages: ChatMessage[], citations: Citation[]): ChatMessage[] {
  const sources = citations.length
    ? citations.map((citation) => `[${citation.index}] (${citation.filename || citation.file_id})\n${citation.text}`).join('\n\n')
    : '(no source matched the question)';
  const instruction: ChatMessage = {
    role: 'system',
    content: `Answer using the sources below where they are relevant, and cite each one you use by its number, like [1]. If they do not contain the answer, say so.\n\nSources:\n${sources}`,
  };
  const firstOther = messages.findIndex((message) => message.role !== 'system');
  const at = firstOther === -1 ? messages.length : firstOther;
  return [...messages.slice(0, at), instruction, ...messages.slice(at)];
}
