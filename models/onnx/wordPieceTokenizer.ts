// A small, fixed BERT WordPiece vocabulary and the Hugging Face `tokenizer.json` /
// `tokenizer_config.json` that describe it (lowercasing BertNormalizer, BertPreTokenizer,
// [CLS] … [SEP] template). Every lowercase ASCII word tokenizes (letters and `##letters` are in
// the vocabulary); common words and endings are single pieces, so token counts look natural.

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

const WORDS = (
  'the of and to a in is it you that he was for on are with as i his they be at one have this from or had by ' +
  'not word but what some we can out other were all there when up use your how said an each she which do ' +
  'their time if will way about many then them write would like so these her long make thing see him two ' +
  'has look more day could go come did number sound no most people my over know water than call first who ' +
  'may down side been now find any new work part take get place made live where after back little only ' +
  'round man year came show every good me give our under name very through just form sentence great think ' +
  'say help low line turn cause much mean before move right boy old too same tell does set three ' +
  'want air well also play small end put home read hand large add even land here must big high ' +
  'such follow act why ask men change went light kind off need house picture try us again animal point ' +
  'mother world near build self earth father model token hello test data server request answer question ' +
  'cat dog car city food music search vector embedding text document query language machine learning'
).split(' ');
const SUFFIXES = ['s', 'es', 'ing', 'ed', 'er', 'est', 'ly', 'tion', 'ment', 'ness', 'able', 'al', 'ity', 'ous', 'ive'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
const DIGITS = '0123456789'.split('');
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'.split('');

/** The vocabulary in id order: specials first ([PAD] = 0), then characters, words, endings. */
export function wordPieceVocabulary(): string[] {
  const pieces: string[] = [...SPECIAL_TOKENS];
  const add = (piece: string) => pieces.includes(piece) || pieces.push(piece);
  for (const c of [...PUNCTUATION, ...DIGITS, ...LETTERS]) add(c);
  for (const c of [...DIGITS, ...LETTERS]) add(`##${c}`);
  for (const word of WORDS) add(word);
  for (const suffix of SUFFIXES) add(`##${suffix}`);
  return pieces;
}

export function tokenizerJson(vocabulary: readonly string[], maxLength: number): object {
  const id = (token: string) => vocabulary.indexOf(token);
  const special = (token: string) => ({ SpecialToken: { id: token, type_id: 0 } });
  return {
    version: '1.0',
    truncation: { direction: 'Right', max_length: maxLength, strategy: 'LongestFirst', stride: 0 },
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content) => ({
      id: id(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((token) => [token, { id: token, ids: [id(token)], tokens: [token] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocabulary.map((token, index) => [token, index])),
    },
  };
}

export function tokenizerConfigJson(maxLength: number): object {
  return {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: maxLength,
    clean_up_tokenization_spaces: true,
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    mask_token: '[MASK]',
  };
}
