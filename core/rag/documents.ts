import type { ChunkingParams } from '../store/index.js';

/** The content of a file cannot be indexed: OpenAI's last_error codes `unsupported_file` (a type
 *  llmsvc cannot read) or `invalid_file` (a readable type, but broken or without text). */
export class UnreadableFileError extends Error {
  override name = 'UnreadableFileError';
  constructor(
    readonly code: 'unsupported_file' | 'invalid_file',
    message: string,
  ) {
    super(message);
  }
}

/** Turns a file into chunks of text: extraction (core/rag/extract) then chunking (core/rag/chunking). */
export interface DocumentReader {
  /** Whether files of this name can be indexed at all (OpenAI decides by extension, at attach time). */
  supports(filename: string): boolean;
  /** The supported extensions, for error messages. */
  readonly extensions: readonly string[];
  /** Throws UnreadableFileError when the content cannot be read. */
  chunks(content: Buffer, filename: string, chunking: ChunkingParams): Promise<string[]>;
}
