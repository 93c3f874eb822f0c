import type { BatchLineRecord, BatchRecord, LineCounts } from '../store/index.js';

/** The API objects of batches, in OpenAI's and Anthropic's exact shapes. */

/** Drops the fields that are not set: OpenAI's schema types them as plain strings and integers
 *  (the SDK as optional), so an unset one is left out rather than sent as null. */
function withoutNulls<T extends Record<string, unknown>>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null && value !== undefined)) as T;
}

/** OpenAI's Batch object. `failed` counts lines that ran and failed; lines never run (a cancelled
 *  or expired batch) are in neither count but are in the error file. */
export function openaiBatchObject(batch: BatchRecord, counts: LineCounts) {
  return {
    id: batch.id,
    object: 'batch' as const,
    endpoint: batch.endpoint,
    ...withoutNulls({
      errors: batch.errors && { object: 'list', data: batch.errors },
      input_file_id: batch.inputFileId ?? '',
      completion_window: batch.completionWindow,
      status: batch.status,
      output_file_id: batch.outputFileId,
      error_file_id: batch.errorFileId,
      created_at: batch.createdAt,
      in_progress_at: batch.inProgressAt,
      expires_at: batch.expiresAt,
      finalizing_at: batch.finalizingAt,
      completed_at: batch.completedAt,
      failed_at: batch.failedAt,
      expired_at: batch.expiredAt,
      cancelling_at: batch.cancellingAt,
      cancelled_at: batch.cancelledAt,
    }),
    request_counts: { total: counts.total, completed: counts.succeeded, failed: counts.errored },
    metadata: batch.metadata,
  };
}

/** A line of an OpenAI output or error file. */
export function openaiOutputLine(line: BatchLineRecord): string {
  if (line.state === 'succeeded' || line.state === 'errored') {
    // An errored line carries the live API's status and error body, as OpenAI's error file does.
    return JSON.stringify({
      id: `batch_req_${line.batchId.slice('batch_'.length)}_${line.line}`,
      custom_id: line.customId,
      response: { status_code: line.statusCode, request_id: line.requestId, body: JSON.parse(line.result!) },
      error: null,
    });
  }
  // Never run: OpenAI's batch_expired / batch_cancelled, with no response.
  const code = line.state === 'expired' ? 'batch_expired' : 'batch_cancelled';
  const message =
    line.state === 'expired' ? 'This request could not be executed before the completion window expired.' : 'This request was not executed because the batch was cancelled.';
  return JSON.stringify({ id: `batch_req_${line.batchId.slice('batch_'.length)}_${line.line}`, custom_id: line.customId, response: null, error: { code, message } });
}

function isoOrNull(seconds: number | null): string | null {
  return seconds === null ? null : new Date(seconds * 1000).toISOString();
}

/** Anthropic's MessageBatch object. */
export function anthropicBatchObject(batch: BatchRecord, counts: LineCounts, baseUrl: string) {
  const ended = batch.status === 'completed' || batch.status === 'cancelled' || batch.status === 'expired';
  const endedAt = batch.completedAt ?? batch.cancelledAt ?? batch.expiredAt;
  return {
    id: batch.id,
    type: 'message_batch' as const,
    processing_status: ended ? ('ended' as const) : batch.status === 'cancelling' ? ('canceling' as const) : ('in_progress' as const),
    request_counts: { processing: counts.pending, succeeded: counts.succeeded, errored: counts.errored, canceled: counts.canceled, expired: counts.expired },
    ended_at: ended ? isoOrNull(endedAt) : null,
    created_at: isoOrNull(batch.createdAt)!,
    expires_at: isoOrNull(batch.expiresAt)!,
    archived_at: null,
    cancel_initiated_at: isoOrNull(batch.cancellingAt),
    results_url: ended ? `${baseUrl}/v1/messages/batches/${batch.id}/results` : null,
  };
}

/** A line of Anthropic's results JSONL. */
export function anthropicResultLine(line: BatchLineRecord): string {
  switch (line.state) {
    case 'succeeded':
      return JSON.stringify({ custom_id: line.customId, result: { type: 'succeeded', message: JSON.parse(line.result!) } });
    case 'errored':
      return JSON.stringify({ custom_id: line.customId, result: { type: 'errored', error: JSON.parse(line.result!) } });
    case 'canceled':
      return JSON.stringify({ custom_id: line.customId, result: { type: 'canceled' } });
    default:
      return JSON.stringify({ custom_id: line.customId, result: { type: 'expired' } });
  }
}
