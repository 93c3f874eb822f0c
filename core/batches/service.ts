import { z } from 'zod';
import { ApiError } from '../errors/index.js';
import { newRagId } from '../rag/ids.js';
import type { BatchApi, BatchRecord, NewBatchLine, PageRequest, Store } from '../store/index.js';
import { anthropicBatchObject, anthropicResultLine, openaiBatchObject } from './objects.js';
import { batchEndpoints } from './validate.js';
import type { BatchWorker } from './worker.js';

/** OpenAI's only completion window; Anthropic's batches expire after the same 24 hours. */
const windowSeconds = 24 * 3600;

const metadataSchema = z
  .record(z.string().max(64), z.string().max(512))
  .refine((value) => Object.keys(value).length <= 16, 'metadata holds at most 16 keys')
  .nullish();

export const createOpenAiBatchSchema = z
  .object({
    input_file_id: z.string().min(1),
    endpoint: z.enum(batchEndpoints),
    completion_window: z.literal('24h'),
    metadata: metadataSchema,
    output_expires_after: z.object({ anchor: z.literal('created_at'), seconds: z.number().int().positive() }).strict().optional(),
  })
  .strict();

export const createAnthropicBatchSchema = z
  .object({
    requests: z
      .array(
        z
          .object({
            custom_id: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'custom_id is 1 to 64 letters, digits, _ or -'),
            params: z.looseObject({ model: z.string().min(1), stream: z.literal(false).optional() }),
          })
          .strict(),
      )
      .min(1, 'requests must hold at least one request'),
  })
  .strict();

/** The caller, for scoping: a user key sees its own batches, an admin key (or no auth) all. */
export interface BatchCaller {
  keyId: string | null;
  admin: boolean;
}

function notFound(kind: string, id: string): ApiError {
  return new ApiError('LLMSVC_ERR_NOT_FOUND', `No ${kind} found with id '${id}'. Check the id; list them with GET ${kind === 'batch' ? '/v1/batches' : '/v1/messages/batches'}.`, 'id');
}

/** The OpenAI Batch API and Anthropic Message Batches over the batches tables; the worker runs them. */
export class BatchService {
  constructor(
    private readonly store: Store,
    private readonly worker: BatchWorker,
    private readonly clock: () => number,
    private readonly maxLines: number,
  ) {}

  // ---- OpenAI

  async createOpenAi(request: z.output<typeof createOpenAiBatchSchema>, caller: BatchCaller) {
    const file = await this.store.files.find(request.input_file_id);
    if (!file) throw new ApiError('LLMSVC_ERR_NOT_FOUND', `No file found with id '${request.input_file_id}'. Upload the input with POST /v1/files (purpose=batch).`, 'input_file_id');
    if (file.purpose !== 'batch') {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `File ${file.id} has purpose '${file.purpose}'; a batch's input file must be uploaded with purpose 'batch'.`, 'input_file_id');
    }
    const batch = this.newRecord('openai', caller, request.endpoint, { inputFileId: file.id, metadata: request.metadata ?? null, status: 'validating' });
    await this.store.batches.create(batch);
    this.worker.wake();
    return this.openAiObject(batch.id);
  }

  async retrieveOpenAi(id: string, caller: BatchCaller) {
    await this.require('openai', id, caller);
    return this.openAiObject(id);
  }

  async listOpenAi(page: PageRequest, caller: BatchCaller) {
    const result = await this.store.batches.list('openai', page, caller.admin ? null : caller.keyId);
    const data = await Promise.all(result.items.map(async (batch) => openaiBatchObject(batch, await this.store.batches.counts(batch.id))));
    return { object: 'list' as const, data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: result.hasMore };
  }

  async cancelOpenAi(id: string, caller: BatchCaller) {
    await this.cancel(await this.require('openai', id, caller));
    return this.openAiObject(id);
  }

  private async openAiObject(id: string) {
    return openaiBatchObject((await this.store.batches.find(id))!, await this.store.batches.counts(id));
  }

  // ---- Anthropic

  async createAnthropic(request: z.output<typeof createAnthropicBatchSchema>, caller: BatchCaller, baseUrl: string) {
    if (request.requests.length > this.maxLines) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `A batch holds at most ${this.maxLines} requests; this one has ${request.requests.length}. Split it.`, 'requests');
    }
    const seen = new Set<string>();
    const lines: NewBatchLine[] = request.requests.map((entry, index) => {
      if (seen.has(entry.custom_id)) {
        throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Duplicate custom_id '${entry.custom_id}' (requests.${index}). Each request of a batch needs its own custom_id.`, `requests.${index}.custom_id`);
      }
      seen.add(entry.custom_id);
      return { line: index + 1, customId: entry.custom_id, model: entry.params.model, body: JSON.stringify(entry.params) };
    });
    const batch = this.newRecord('anthropic', caller, '/v1/messages', { inputFileId: null, metadata: null, status: 'in_progress' });
    await this.store.batches.create({ ...batch, inProgressAt: batch.createdAt }, lines);
    this.worker.wake();
    return this.anthropicObject(batch.id, baseUrl);
  }

  async retrieveAnthropic(id: string, caller: BatchCaller, baseUrl: string) {
    await this.require('anthropic', id, caller);
    return this.anthropicObject(id, baseUrl);
  }

  async listAnthropic(page: PageRequest, caller: BatchCaller, baseUrl: string) {
    const result = await this.store.batches.list('anthropic', page, caller.admin ? null : caller.keyId);
    const data = await Promise.all(result.items.map(async (batch) => anthropicBatchObject(batch, await this.store.batches.counts(batch.id), baseUrl)));
    return { data, has_more: result.hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  }

  async cancelAnthropic(id: string, caller: BatchCaller, baseUrl: string) {
    await this.cancel(await this.require('anthropic', id, caller));
    return this.anthropicObject(id, baseUrl);
  }

  /** The results JSONL, a line at a time; only once the batch has ended (checked before the
   *  lines are returned, so that the error comes before a 200 is sent). */
  async anthropicResults(id: string, caller: BatchCaller): Promise<AsyncIterable<string>> {
    const batch = await this.require('anthropic', id, caller);
    if (!isEnded(batch)) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Message batch ${id} is still ${batch.status === 'cancelling' ? 'canceling' : 'in progress'}; its results are ready once processing_status is 'ended'.`, 'id');
    }
    const lines = this.store.batches.lines(id);
    return (async function* () {
      for await (const line of lines) yield anthropicResultLine(line) + '\n';
    })();
  }

  async deleteAnthropic(id: string, caller: BatchCaller) {
    const batch = await this.require('anthropic', id, caller);
    if (!isEnded(batch)) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Message batch ${id} is still processing; cancel it and wait until it has ended before deleting it.`, 'id');
    }
    await this.store.batches.delete(id);
    return { id, type: 'message_batch_deleted' as const };
  }

  private async anthropicObject(id: string, baseUrl: string) {
    return anthropicBatchObject((await this.store.batches.find(id))!, await this.store.batches.counts(id), baseUrl);
  }

  // ---- shared

  private newRecord(api: BatchApi, caller: BatchCaller, endpoint: string, fields: Pick<BatchRecord, 'inputFileId' | 'metadata' | 'status'>) {
    const now = this.clock();
    const createdAt = Math.floor(now / 1000);
    return {
      id: api === 'openai' ? newRagId('batch', '_') : newRagId('msgbatch', '_'),
      api,
      keyId: caller.keyId,
      endpoint,
      completionWindow: '24h',
      createdAt,
      inProgressAt: null,
      expiresAt: createdAt + windowSeconds,
      updatedAt: now,
      ...fields,
    };
  }

  /** Cancelling: no new line starts from now on; the worker cancels the pending ones and ends the
   *  batch once its running lines are done. A batch that has ended stays as it is. The update is
   *  guarded by the status that was read: the worker may have moved the batch on since (e.g. to
   *  finalizing), and then the batch is read again and judged by its new status. */
  private async cancel(batch: BatchRecord): Promise<void> {
    for (let current: BatchRecord | undefined = batch; current; current = await this.store.batches.find(batch.id)) {
      if (current.status === 'validating' || current.status === 'in_progress') {
        const now = this.clock();
        if (!(await this.store.batches.update(current.id, { status: 'cancelling', cancellingAt: Math.floor(now / 1000) }, now, [], current.status))) continue;
        this.worker.wake();
      } else if (current.status !== 'cancelling') {
        throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Batch ${current.id} is ${current.status}; only a validating or in-progress batch can be cancelled.`, 'id');
      }
      return;
    }
  }

  /** The admin API's cancel (POST /admin/v1/jobs/{id}/cancel): the same cancel as the public
   *  routes, for a batch of either API, as an admin. */
  async cancelById(id: string): Promise<void> {
    const batch = await this.store.batches.find(id);
    if (!batch) throw notFound('batch', id);
    await this.cancel(batch);
  }

  private async require(api: BatchApi, id: string, caller: BatchCaller): Promise<BatchRecord> {
    const batch = await this.store.batches.find(id);
    if (!batch || batch.api !== api || (!caller.admin && batch.keyId !== caller.keyId)) throw notFound(api === 'openai' ? 'batch' : 'message batch', id);
    return batch;
  }
}

function isEnded(batch: BatchRecord): boolean {
  return batch.status === 'completed' || batch.status === 'cancelled' || batch.status === 'expired' || batch.status === 'failed';
}

/** Batch jobs in the admin API's job shape (GET /admin/v1/jobs lists them beside other jobs),
 *  newest first; `active`: those with work left, oldest first (for the stats snapshot). The extra fields
 *  tell a UI where the results are: the output/error files (OpenAI) or the results route (Anthropic). */
export async function listBatchJobs(store: Store, options: { limit?: number; active?: boolean } = {}) {
  const batches = options.active ? await store.batches.active() : (await store.batches.all()).slice(0, options.limit);
  return Promise.all(batches.map(async (batch) => {
    const counts = await store.batches.counts(batch.id);
    return {
      id: batch.id,
      kind: 'batch' as const,
      state: batch.status,
      progress_done: counts.total - counts.pending,
      progress_total: counts.total,
      error: batch.errors?.[0]?.message ?? null,
      created_at: batch.createdAt * 1000,
      updated_at: batch.updatedAt,
      api: batch.api,
      endpoint: batch.endpoint,
      request_counts: { succeeded: counts.succeeded, errored: counts.errored, canceled: counts.canceled, expired: counts.expired },
      output_file_id: batch.outputFileId,
      error_file_id: batch.errorFileId,
      results_url: batch.api === 'anthropic' && isEnded(batch) ? `/v1/messages/batches/${batch.id}/results` : null,
    };
  }));
}

export type BatchJob = Awaited<ReturnType<typeof listBatchJobs>>[number];
