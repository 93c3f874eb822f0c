// Extraction and chunking for ingestion run in a thread of their own (core/rag/documentThread.ts):
// the same chunks as the inline reader, the same typed errors, and the main thread free meanwhile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDocumentReader, threadedDocumentReader, UnreadableFileError } from '../core/rag/index.js';
import { autoChunking } from '../core/rag/chunking.js';
import { minimalPdf } from './support/pdf.js';

const smallChunks = { max_chunk_size_tokens: 100, chunk_overlap_tokens: 20 };

test('the threaded reader makes the inline reader’s chunks (text and PDF) and its typed errors', async () => {
  const threaded = threadedDocumentReader();
  const inline = defaultDocumentReader();
  try {
    const text = Buffer.from(Array.from({ length: 3_000 }, (_, i) => `word${i}`).join(' '));
    assert.deepEqual(await threaded.chunks(text, 'notes.txt', smallChunks), await inline.chunks(text, 'notes.txt', smallChunks));
    const pdf = Buffer.from(minimalPdf([['Pump manual (rev 2)', 'Check the seals.'], ['Part XK-4471 fits the housing.']]));
    const chunks = await threaded.chunks(pdf, 'manual.pdf', autoChunking);
    assert.deepEqual(chunks, await inline.chunks(pdf, 'manual.pdf', autoChunking));
    assert.match(chunks.join(' '), /Part XK-4471 fits the housing\./);
    assert.equal(threaded.supports('a.PDF'), inline.supports('a.PDF'));
    assert.deepEqual(threaded.extensions, inline.extensions);
    for (const [content, filename, code] of [
      [Buffer.from('{"a":'), 'bad.json', 'invalid_file'],
      [Buffer.from([0, 1, 2]), 'image.png', 'unsupported_file'],
    ] as const) {
      await assert.rejects(threaded.chunks(content, filename, autoChunking), (error: unknown) => {
        assert.ok(error instanceof UnreadableFileError, String(error));
        assert.equal(error.code, code);
        assert.match(error.message, new RegExp(filename.replace('.', '\\.')));
        return true;
      });
    }
  } finally {
    await threaded.dispose();
  }
  await assert.rejects(threaded.chunks(Buffer.from('x'), 'a.txt', autoChunking), /disposed/);
});

test('the main thread keeps turning while a large document is chunked', async () => {
  const threaded = threadedDocumentReader();
  try {
    await threaded.chunks(Buffer.from('warm up the thread'), 'a.txt', autoChunking);
    // 2.6 MB of text: ~300 ms of chunking, during which the inline reader would not yield once.
    const large = Buffer.from(Array.from({ length: 400_000 }, (_, i) => `word${i % 5000}`).join(' '));
    let turns = 0;
    let chunking = true;
    const tick = (): void => {
      turns++;
      if (chunking) setImmediate(tick);
    };
    setImmediate(tick);
    const chunks = await threaded.chunks(large, 'large.txt', autoChunking);
    chunking = false;
    assert.ok(chunks.length > 1_000);
    assert.ok(turns > 10, `the event loop turned ${turns} times while the document was chunked`);
  } finally {
    await threaded.dispose();
  }
});
