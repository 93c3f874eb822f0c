import type { EncodedInput } from './inputEncoder.js';

/** Several inputs as one [batch, sequence] tensor set: each row is padded with `padId` to the
 *  longest input, and the attention mask is 1 for real tokens, 0 for padding. */
export interface PaddedBatch {
  batchSize: number;
  sequenceLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

export function padBatch(inputs: readonly EncodedInput[], padId = 0): PaddedBatch {
  const batchSize = inputs.length;
  const sequenceLength = Math.max(...inputs.map((input) => input.ids.length));
  const size = batchSize * sequenceLength;
  const inputIds = new BigInt64Array(size).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(size);
  const tokenTypeIds = new BigInt64Array(size);
  inputs.forEach((input, row) => {
    const offset = row * sequenceLength;
    input.ids.forEach((id, column) => {
      inputIds[offset + column] = BigInt(id);
      attentionMask[offset + column] = 1n;
      tokenTypeIds[offset + column] = BigInt(input.typeIds[column] ?? 0);
    });
  });
  return { batchSize, sequenceLength, inputIds, attentionMask, tokenTypeIds };
}
