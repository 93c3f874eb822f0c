import { Tokenizer } from '@huggingface/tokenizers';
import { ApiError } from '../../errors/index.js';

/** One input as the model sees it: token ids and their token type (segment) ids. */
export interface EncodedInput {
  ids: number[];
  typeIds: number[];
}

/** Turns request inputs into token ids, truncated to the model's maximum length. Texts go through
 *  the model's own tokenizer (its template adds [CLS]/[SEP] or whatever the model expects); token
 *  id inputs are taken as they are. @huggingface/tokenizers does not truncate, so this does. */
export class InputEncoder {
  private readonly tokenizer: Tokenizer;

  constructor(
    tokenizerJson: object,
    tokenizerConfig: object,
    private readonly maxLength: number,
    private readonly vocabSize: number,
  ) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  }

  encode(input: string | number[], index = 0): EncodedInput {
    return typeof input === 'string' ? this.encodeText(input) : this.encodeIds(input, index);
  }

  private encodeText(text: string): EncodedInput {
    const full = this.tokenizer.encode(text, { return_token_type_ids: true });
    if (full.ids.length <= this.maxLength) return { ids: full.ids, typeIds: full.token_type_ids };
    return this.truncate(text, { ids: full.ids, typeIds: full.token_type_ids });
  }

  /** Cuts the text's own tokens, keeping the special tokens the template puts around them. */
  private truncate(text: string, full: EncodedInput): EncodedInput {
    const bare = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const added = full.ids.length - bare.length;
    const keep = this.maxLength - added;
    const start = keep > 0 ? templatePrefixLength(full.ids, bare) : -1;
    // A template we cannot see through (or one longer than the limit): cut the end off.
    if (start < 0) return { ids: full.ids.slice(0, this.maxLength), typeIds: full.typeIds.slice(0, this.maxLength) };
    const cut = <T>(values: T[]) => [...values.slice(0, start + keep), ...values.slice(start + bare.length)];
    return { ids: cut(full.ids), typeIds: cut(full.typeIds) };
  }

  private encodeIds(ids: number[], index: number): EncodedInput {
    const param = `input[${index}]`;
    if (ids.length === 0) throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `${param} is an empty list of token ids; send at least one token.`, param);
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= this.vocabSize);
    if (bad !== undefined) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `${param} holds the token id ${bad}, outside this model's vocabulary (0 to ${this.vocabSize - 1}); send text or ids from this model's tokenizer.`, param);
    }
    const kept = ids.slice(0, this.maxLength);
    return { ids: kept, typeIds: new Array<number>(kept.length).fill(0) };
  }
}

/** Where the bare tokens start inside the templated ones (e.g. 1 after [CLS]), or -1. */
function templatePrefixLength(templated: number[], bare: number[]): number {
  for (let start = 0; start + bare.length <= templated.length; start++) {
    if (bare.every((id, i) => templated[start + i] === id)) return start;
  }
  return -1;
}
