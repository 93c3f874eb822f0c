// Runs in the document thread (see documentThread.ts): extraction and chunking, off the main thread.
import type { ChunkingParams } from '../store/index.js';
import { defaultDocumentReader } from './documentReader.js';
import { UnreadableFileError } from './documents.js';

export interface DocumentTask {
  /** The file's bytes (a Buffer arrives in a worker as a plain Uint8Array). */
  content: Uint8Array;
  filename: string;
  chunking: ChunkingParams;
}

/** Chunks, or why the file cannot be read (an UnreadableFileError does not survive the thread boundary as one). */
export type DocumentTaskResult = { ok: true; chunks: string[] } | { ok: false; code: UnreadableFileError['code']; message: string };

const reader = defaultDocumentReader();

export default async function readDocument({ content, filename, chunking }: DocumentTask): Promise<DocumentTaskResult> {
  try {
    const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    return { ok: true, chunks: await reader.chunks(bytes, filename, chunking) };
  } catch (error) {
    if (error instanceof UnreadableFileError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}
