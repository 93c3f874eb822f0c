// The generator's own byte-level SentencePiece ("llama") vocabulary: any text tokenizes (byte fallback),
// common English pieces keep token counts realistic-ish, and padding fills the preset's vocabulary size.
import { gv, type GgufKv } from './gguf.js';

/** llama.cpp token types (llama_token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export function isSuppressedType(t: number): boolean {
  return t === TokenType.UNKNOWN || t === TokenType.CONTROL || t === TokenType.UNUSED || t === TokenType.BYTE;
}

export interface TokenizerSpec {
  /** all tokenizer.* metadata keys */
  kvs: GgufKv[];
  vocabSize: number;
  /**
   * Tokens a random model should not emit: unknown, control (incl. end-of-sequence), unused and raw bytes.
   * The generator zeroes their rows of output.weight, so their logit is 0 while the best real token's is
   * well above: greedy decoding never stops early (benchmarks asking for N tokens get N) and sampled text
   * is mostly whole pieces rather than stray bytes that are not valid UTF-8.
   */
  suppressedTokens: Set<number>;
}

export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
const SPACE = '\u2581'; // SentencePiece's "▁" stands for a space

export const CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// Frequent English words (most frequent first); each becomes "▁word" together with its prefixes.
const WORDS = (
  'the of and to a in is it you that he was for on are with as i his they be at one have this from or had by ' +
  'not word but what some we can out other were all there when up use your how said an each she which do ' +
  'their time if will way about many then them write would like so these her long make thing see him two ' +
  'has look more day could go come did number sound no most people my over know water than call first who ' +
  'may down side been now find any new work part take get place made live where after back little only ' +
  'round man year came show every good me give our under name very through just form sentence great think ' +
  'say help low line differ turn cause much mean before move right boy old too same tell does set three ' +
  'want air well also play small end put home read hand port large spell add even land here must big high ' +
  'such follow act why ask men change went light kind off need house picture try us again animal point ' +
  'mother world near build self earth father model token hello test data server request answer question'
).split(' ');
// Frequent word endings, so longer words split into fewer pieces.
const SUFFIXES = ['ing', 'ed', 'er', 'es', 'ly', 'tion', 'ment', 'ness', 'able', 'est', 'al', 'en', 'ity', 'ous', 'ive'];

/** Pieces in priority order, each preceded by its missing prefixes so SentencePiece merges can reach it. */
function commonPieces(): string[][] {
  const groups: string[][] = [];
  const seen = new Set<string>();
  const add = (piece: string, minLen: number): void => {
    const group: string[] = [];
    for (let len = minLen; len <= piece.length; len++) {
      const p = piece.slice(0, len);
      if (!seen.has(p)) { seen.add(p); group.push(p); }
    }
    if (group.length) groups.push(group);
  };
  for (const w of [...WORDS, ...SUFFIXES]) {
    // paddingPiece relies on no multi-character piece containing a capital letter
    if (!/^[a-z]+$/.test(w)) throw new Error(`piece ${w} must be lowercase ASCII letters`);
  }
  for (const w of WORDS) add(SPACE + w, 2);
  for (const s of SUFFIXES) add(s, 2);
  return groups;
}

const CONSONANTS = 'bdfgklmnprstvz';
const VOWELS = 'aeiou';

/**
 * Padding token #n: "▁" + a capitalised pseudo-word ("▁Ba", "▁Beko", ...), unique by bijective base-70
 * numbering of syllables. SentencePiece only merges adjacent pieces whose concatenation is a token, and no
 * other token of two or more characters starts with "▁" + capital or with a capital, so no text ever
 * tokenizes to one. Unlike UNUSED tokens they still detokenize to visible text, so a server streaming a
 * sampled answer sends one non-empty chunk per token.
 */
export function paddingPiece(n: number): string {
  const base = CONSONANTS.length * VOWELS.length;
  let k = n;
  let word = '';
  do {
    const s = k % base;
    word += CONSONANTS[Math.floor(s / VOWELS.length)]! + VOWELS[s % VOWELS.length]!;
    k = Math.floor(k / base) - 1;
  } while (k >= 0);
  return SPACE + word[0]!.toUpperCase() + word.slice(1);
}

/** Builds the vocabulary for `vocabSize` tokens (at least the 261 fixed ones plus the printable ASCII). */
export function buildTokenizer(vocabSize: number): TokenizerSpec {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const push = (t: string, score: number, type: number): void => { tokens.push(t); scores.push(score); types.push(type); };

  push('<unk>', 0, TokenType.UNKNOWN);
  push('<s>', 0, TokenType.CONTROL);
  push('</s>', 0, TokenType.CONTROL);
  for (let b = 0; b < 256; b++) push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0, TokenType.BYTE);
  push('<|im_start|>', 0, TokenType.CONTROL);
  push('<|im_end|>', 0, TokenType.CONTROL);
  push(SPACE, -1, TokenType.NORMAL);
  // printable ASCII except the space, which SentencePiece has already turned into "▁"
  for (let c = 0x21; c <= 0x7e; c++) push(String.fromCharCode(c), -1, TokenType.NORMAL);
  if (tokens.length > vocabSize) throw new Error(`vocabulary size ${vocabSize} is below the ${tokens.length} fixed tokens`);

  // a higher score wins a merge: earlier (more frequent) pieces score higher
  let rank = 0;
  for (const group of commonPieces()) {
    if (tokens.length + group.length > vocabSize) break;
    for (const p of group) push(p, -2 - rank++, TokenType.NORMAL);
  }
  for (let n = 0; tokens.length < vocabSize; n++) push(paddingPiece(n), -1e5 - n, TokenType.NORMAL);

  const suppressedTokens = new Set<number>();
  types.forEach((t, id) => { if (isSuppressedType(t)) suppressedTokens.add(id); });

  const kvs: GgufKv[] = [
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.tokens', gv.strArr(tokens)],
    ['tokenizer.ggml.scores', gv.f32Arr(Float32Array.from(scores))],
    ['tokenizer.ggml.token_type', gv.i32Arr(Int32Array.from(types))],
    ['tokenizer.ggml.bos_token_id', gv.u32(BOS_ID)],
    ['tokenizer.ggml.eos_token_id', gv.u32(EOS_ID)],
    ['tokenizer.ggml.unknown_token_id', gv.u32(UNK_ID)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ['tokenizer.ggml.add_eos_token', gv.bool(false)],
    ['tokenizer.chat_template', gv.str(CHAT_TEMPLATE)],
  ];
  return { kvs, vocabSize, suppressedTokens };
}
