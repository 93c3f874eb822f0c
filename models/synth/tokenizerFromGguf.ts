// Borrows the tokenizer of an existing GGUF: every tokenizer.* key is copied with its original value type.
import type { GgufKv } from './gguf.js';
import { readGgufMetadata } from './ggufReader.js';
import { isSuppressedType, type TokenizerSpec } from './tokenizer.js';

export function tokenizerFromGguf(path: string): TokenizerSpec {
  const { kvs: all } = readGgufMetadata(path);
  const kvs: GgufKv[] = all.filter(([key]) => key.startsWith('tokenizer.'));
  const get = (key: string) => kvs.find(([k]) => k === key)?.[1];

  const tokens = get('tokenizer.ggml.tokens');
  if (!tokens || tokens.type !== 'array' || tokens.itemType !== 'string' || tokens.values.length === 0) {
    throw new Error(`${path}: no tokenizer.ggml.tokens array, cannot borrow its vocabulary`);
  }
  if (!get('tokenizer.ggml.model')) throw new Error(`${path}: no tokenizer.ggml.model`);
  const vocabSize = tokens.values.length;

  const suppressedTokens = new Set<number>();
  const types = get('tokenizer.ggml.token_type');
  if (types && types.type === 'array' && types.itemType !== 'array' && types.itemType !== 'string' && types.itemType !== 'bool') {
    for (let id = 0; id < types.values.length; id++) {
      if (isSuppressedType(Number(types.values[id]))) suppressedTokens.add(id);
    }
  }
  // end-of-generation tokens are sometimes typed NORMAL; keep them out of greedy decoding too
  for (const key of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']) {
    const v = get(key);
    if (v && (v.type === 'uint32' || v.type === 'int32') && v.value >= 0 && v.value < vocabSize) suppressedTokens.add(v.value);
  }
  return { kvs, vocabSize, suppressedTokens };
}
