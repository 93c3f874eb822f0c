import type { ChunkTokenizer } from './chunking.js';

/** Pieces of about one BPE token each: a run of up to 4 letters or digits, or one other character,
 *  with the whitespace before it (GPT-style tokenizers average about 4 characters per token of
 *  English). Decoding concatenates pieces, so chunks are exact slices of the text. */
const piecePattern = /\s*[\p{L}\p{N}]{1,4}|\s*[^\s\p{L}\p{N}]|\s+/gu;

/** A tokenizer that needs no model: ingestion runs before (and apart from) the embedding model's
 *  own tokenizer, which lives in the runtime thread. Chunk sizes are therefore approximate, within
 *  the embedding context of any real model for OpenAI's limits (at most 4096 of these tokens). */
export function approximateTokenizer(): ChunkTokenizer {
  const ids = new Map<string, number>();
  const pieces: string[] = [];
  return {
    encode(text) {
      return Array.from(text.matchAll(piecePattern), ([piece]) => {
        let id = ids.get(piece);
        if (id === undefined) {
          id = pieces.push(piece) - 1;
          ids.set(piece, id);
        }
        return id;
      });
    },
    decode(tokens) {
      return tokens.map((token) => pieces[token] ?? '').join('');
    },
  };
}
