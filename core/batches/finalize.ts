import { Readable } from 'node:stream';
import { newRagId } from '../rag/ids.js';
import type { FileContents, StoredBlob } from '../storage/index.js';
import type { BatchLineRecord, BatchPatch, BatchRecord, FileRecord, Store } from '../store/index.js';
import { openaiOutputLine } from './objects.js';

/** Ends a batch. For OpenAI, the output file (succeeded lines) and the error file (failed,
 *  cancelled and expired lines) are streamed from the lines table into the blob store, then the
 *  two file rows and the final status are written in one transaction: a crash before it leaves
 *  the batch unfinished (finalized again at the next start; at worst an unused blob is left), so
 *  every line ends up in exactly one of the two files, once. */
export async function finalizeBatch(store: Store, contents: FileContents, batch: BatchRecord, status: 'completed' | 'cancelled' | 'expired', now: number): Promise<void> {
  const seconds = Math.floor(now / 1000);
  const patch: BatchPatch = { status };
  if (status === 'completed') patch.completedAt = seconds;
  else if (status === 'cancelled') patch.cancelledAt = seconds;
  else patch.expiredAt = seconds;
  const files: FileRecord[] = [];
  const keys: string[] = [];
  if (batch.api === 'openai') {
    const counts = await store.batches.counts(batch.id);
    const write = async (filename: string, wanted: (line: BatchLineRecord) => boolean) => {
      const stored: StoredBlob = await contents.write(Readable.from(outputLines(store, batch.id, wanted)));
      files.push({ id: newRagId('file', '-'), filename, bytes: stored.bytes, purpose: 'batch_output', createdAt: seconds, sha256: stored.sha256 });
      keys.push(stored.key);
      return files.at(-1)!.id;
    };
    if (counts.succeeded > 0) patch.outputFileId = await write(`${batch.id}_output.jsonl`, (line) => line.state === 'succeeded');
    if (counts.total - counts.succeeded > 0) patch.errorFileId = await write(`${batch.id}_error.jsonl`, (line) => line.state !== 'succeeded');
  }
  // Guarded by the status it was finalized from: a cancel that came in meanwhile wins (the batch
  // is finalized again as cancelled), and the blobs written for this attempt are dropped.
  const recorded = await store.transaction(async (tx) => {
    if (!(await tx.batches.update(batch.id, patch, now, [], batch.status))) return false;
    for (const [index, file] of files.entries()) await tx.files.insert(file, keys[index]!);
    return true;
  });
  if (!recorded) for (const key of keys) await contents.release(key).catch(() => {});
}

async function* outputLines(store: Store, batchId: string, wanted: (line: BatchLineRecord) => boolean): AsyncGenerator<string> {
  for await (const line of store.batches.lines(batchId)) if (wanted(line)) yield openaiOutputLine(line) + '\n';
}
