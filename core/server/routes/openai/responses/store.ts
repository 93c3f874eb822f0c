import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../../../errors/index.js';
import type { ResponseStore, StoredResponse } from '../../../../store/index.js';
import { newId } from '../../../ids.js';
import type { InputItem } from './schema.js';
import type { ResponseObject } from './output.js';

/** Stored responses as the routes see them: who may read one, the history previous_response_id
 *  continues, and input items as OpenAI lists them. */

type Item = Record<string, unknown>;

/** A stored response is the creating key's: another user key gets the 404 an unknown id gets
 *  (so ids cannot be probed); admin keys read all; with auth off there are no keys to tell apart. */
function readable(stored: StoredResponse, request: FastifyRequest): boolean {
  const key = request.apiKey;
  return key === undefined || key.scope === 'admin' || stored.keyId === key.id;
}

export async function findReadable(repository: ResponseStore, id: string, request: FastifyRequest): Promise<StoredResponse | undefined> {
  const stored = await repository.find(id);
  return stored && readable(stored, request) ? stored : undefined;
}

/** GET/DELETE of an id that is not there (or not this key's). */
export function responseNotFound(id: string): ApiError {
  return new ApiError(
    'LLMSVC_ERR_NOT_FOUND',
    `No response found with id '${id}'. Only responses created with store: true (the default) by this API key are kept; check the id.`,
    'response_id',
  );
}

/** The response previous_response_id names, or OpenAI's 404 for it. */
export async function requirePrevious(repository: ResponseStore, id: string, request: FastifyRequest): Promise<StoredResponse> {
  const stored = await findReadable(repository, id, request);
  if (stored) return stored;
  throw new ApiError(
    'LLMSVC_ERR_PREVIOUS_RESPONSE_NOT_FOUND',
    `Previous response with id '${id}' not found. Give the id of a response this API key created with store: true, or send the whole conversation as input instead.`,
    'previous_response_id',
  );
}

/** What the model read before and what it answered: the items a continuation starts from.
 *  (Instructions are not carried over, as at OpenAI.) */
export function historyOf(previous: StoredResponse): Item[] {
  return [...previous.context, ...(previous.response.output as Item[])];
}

/** An input item as OpenAI lists it (GET …/input_items): with an id and a status, a message's
 *  content as parts. */
export function toStoredItem(item: InputItem): Item {
  switch (item.type) {
    case 'function_call':
      return { id: newId('fc', '_'), type: 'function_call', status: 'completed', call_id: item.call_id, name: item.name, arguments: item.arguments };
    case 'function_call_output':
      return { id: newId('fco', '_'), type: 'function_call_output', status: 'completed', call_id: item.call_id, output: item.output };
    default: {
      const partType = item.role === 'assistant' ? 'output_text' : 'input_text';
      const content =
        typeof item.content === 'string'
          ? [{ type: partType, text: item.content }]
          : item.content.map((part) => (part.type === 'refusal' ? part : { type: partType, text: part.text }));
      const parts = item.role === 'assistant' ? content.map((part) => (part.type === 'output_text' ? { ...part, annotations: [], logprobs: [] } : part)) : content;
      return { id: newId('msg', '_'), type: 'message', role: item.role, status: 'completed', content: parts };
    }
  }
}

export function saveResponse(repository: ResponseStore, request: FastifyRequest, response: ResponseObject, context: Item[], inputCount: number): Promise<void> {
  return repository.insert({
    id: response.id,
    ...(request.apiKey ? { keyId: request.apiKey.id } : {}),
    createdAt: response.created_at,
    model: response.model,
    response: response as unknown as Item,
    context,
    inputCount,
  });
}

export interface InputItemsQuery {
  limit: number;
  order: 'asc' | 'desc';
  after?: string;
  before?: string;
}

/** GET /v1/responses/{id}/input_items: a page of the response's own input, as OpenAI pages lists
 *  (`after`: the items after that id in the order asked for; `before`: the ones before it). */
export function inputItemsPage(stored: StoredResponse, query: InputItemsQuery) {
  const own = stored.context.slice(stored.context.length - stored.inputCount);
  const ordered = query.order === 'asc' ? own : [...own].reverse();
  const position = (id: string) => ordered.findIndex((item) => item.id === id);
  let data: Item[];
  let hasMore: boolean;
  if (query.after === undefined && query.before !== undefined) {
    const end = Math.max(position(query.before), 0);
    const start = Math.max(end - query.limit, 0);
    data = ordered.slice(start, end);
    hasMore = start > 0;
  } else {
    const start = query.after === undefined ? 0 : position(query.after) + 1;
    // An unknown `after` id lists nothing, rather than starting over.
    data = query.after !== undefined && start === 0 ? [] : ordered.slice(start, start + query.limit);
    hasMore = data.length > 0 && start + data.length < ordered.length;
  }
  return {
    object: 'list' as const,
    data,
    first_id: (data[0]?.id as string | undefined) ?? null,
    last_id: (data.at(-1)?.id as string | undefined) ?? null,
    has_more: hasMore,
  };
}
