import { createHash } from 'node:crypto';
import { newRagId } from '../rag/ids.js';
import type { BatchPatch, BatchRecord, FileRecord, Store } from '../store/index.js';
import { openaiOutputLine } from './objects.js';

/** Ends a batch: for OpenAI, writes the output file (succeeded lines) and the error file (failed,
 *  cancelled and expired lines) as Files API files with purpose batch_output, and sets the final
 *  status, all in one transaction, so a crash leaves the batch either unfinished (finalized again
 *  on restart) or finished with both files; every line is in exactly one of them. */
export function finalizeBatch(store: Store, batch: BatchRecord, status: 'completed' | 'cancelled' | 'expired', now: number): void {
  const seconds = Math.floor(now / 1000);
  const patch: BatchPatch = { status };
  if (status === 'completed') patch.completedAt = seconds;
  else if (status === 'cancelled') patch.cancelledAt = seconds;
  else patch.expiredAt = seconds;
  store.db.transaction(() => {
    if (batch.api === 'openai') {
      const output: string[] = [];
      const errors: string[] = [];
      for (const line of store.batches.lines(batch.id)) (line.state === 'succeeded' ? output : errors).push(openaiOutputLine(line));
      if (output.length > 0) patch.outputFileId = insertFile(store, `${batch.id}_output.jsonl`, output, seconds);
      if (errors.length > 0) patch.errorFileId = insertFile(store, `${batch.id}_error.jsonl`, errors, seconds);
    }
    store.batches.update(batch.id, patch, now);
  })();
}

function insertFile(store: Store, filename: string, lines: string[], createdAt: number): string {
  const content = Buffer.from(lines.join('\n') + '\n', 'utf8');
  const record: FileRecord = {
    id: newRagId('file', '-'),
    filename,
    bytes: content.length,
    purpose: 'batch_output',
    createdAt,
    sha256: createHash('sha256').update(content).digest('hex'),
  };
  store.files.insert(record, content);
  return record.id;
}
