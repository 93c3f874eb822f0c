import type { Piscina } from 'piscina';
import { createTaskPool, siblingModule } from '../runtimes/worker/workerPool.js';
import { defaultDocumentReader } from './documentReader.js';
import { UnreadableFileError, type DocumentReader } from './documents.js';
import type { DocumentTask, DocumentTaskResult } from './documentTask.js';

export interface ThreadedDocumentReader extends DocumentReader {
  /** Ends the thread (a chunks() call after this fails). */
  dispose(): Promise<void>;
}

/** The default reader, run in a thread of its own. Extracting a large PDF or chunking megabytes of
 *  text costs from hundreds of milliseconds to seconds of CPU, and on the main thread no API
 *  request would be served meanwhile: pdf.js chains promises without yielding to the event loop,
 *  so a 300-page PDF held it for ~2 s, and chunking 2.6 MB of text for ~300 ms. */
export function threadedDocumentReader(): ThreadedDocumentReader {
  const inline = defaultDocumentReader();
  let pool: Piscina | undefined;
  let disposed = false;
  return {
    extensions: inline.extensions,
    supports: inline.supports,
    async chunks(content, filename, chunking) {
      if (disposed) throw new Error('the document reader has been disposed');
      pool ??= createTaskPool(siblingModule('documentTask', import.meta.url));
      const task: DocumentTask = { content, filename, chunking };
      const result = (await pool.run(task)) as DocumentTaskResult;
      if (!result.ok) throw new UnreadableFileError(result.code, result.message);
      return result.chunks;
    },
    async dispose() {
      disposed = true;
      await pool?.destroy();
    },
  };
}
