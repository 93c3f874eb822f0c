import path from 'node:path';
import type { ChunkingParams } from '../store/index.js';
import { approximateTokenizer } from './approximateTokenizer.js';
import { chunkText, type ChunkTokenizer } from './chunking.js';
import { UnreadableFileError, type DocumentReader } from './documents.js';
import { detectFileType, extractText, supportedFileTypes } from './extract/index.js';
import { isApiError } from '../errors/index.js';

/** Text from a file's bytes; throws UnreadableFileError when there is none to be had. */
export type TextExtractor = (content: Buffer, filename: string) => Promise<string>;

export interface DocumentReaderOptions {
  /** Extensions (with the dot, lower case) the extractor reads. */
  extensions: readonly string[];
  extract: TextExtractor;
  /** A tokenizer per document (chunk boundaries are its token boundaries). */
  tokenizer?: () => ChunkTokenizer;
}

/** Extraction, then OpenAI's static chunking. */
export function documentReader(options: DocumentReaderOptions): DocumentReader {
  const extensions = new Set(options.extensions);
  const tokenizer = options.tokenizer ?? approximateTokenizer;
  return {
    extensions: [...extensions],
    supports: (filename) => extensions.has(path.extname(filename).toLowerCase()),
    async chunks(content: Buffer, filename: string, chunking: ChunkingParams) {
      const text = await options.extract(content, filename);
      return chunkText(text, chunking, tokenizer()).map((chunk) => chunk.text);
    },
  };
}

/** Text by core/rag/extract (txt, md, html, json, pdf). Whatever stops extraction is the file's
 *  fault, never worth a retry: an unknown type is `unsupported_file`, the rest `invalid_file`. */
export const extractedText: TextExtractor = async (content, filename) => {
  try {
    return (await extractText({ filename, bytes: content })).text;
  } catch (error) {
    const unsupported = isApiError(error) && error.code === 'LLMSVC_ERR_UNSUPPORTED_MEDIA_TYPE';
    throw new UnreadableFileError(unsupported ? 'unsupported_file' : 'invalid_file', (error as Error).message);
  }
};

/** The reader the server and the CLI use. Attachable types are decided by extension, as OpenAI does. */
export function defaultDocumentReader(): DocumentReader {
  const reader = documentReader({ extensions: supportedFileTypes.map((type) => `.${type}`), extract: extractedText });
  return { ...reader, supports: (filename) => detectFileType(filename, new Uint8Array()) !== undefined };
}
