import type { PoolingMode } from './modelDirectory.js';

/** The hidden states of a batch: [batchSize, sequenceLength, dimension], row-major. */
export interface HiddenStates {
  data: Float32Array;
  batchSize: number;
  sequenceLength: number;
  dimension: number;
}

/** One vector per sequence, pooled over its real (unmasked) tokens as sentence-transformers does:
 *  the mean, the first token ([CLS]), or the element-wise max; then optionally L2-normalised. */
export function poolEmbeddings(hidden: HiddenStates, attentionMask: BigInt64Array, mode: PoolingMode, normalize: boolean): number[][] {
  const { data, batchSize, sequenceLength, dimension } = hidden;
  const vectors: number[][] = [];
  for (let row = 0; row < batchSize; row++) {
    const tokens: number[] = [];
    for (let t = 0; t < sequenceLength; t++) if (attentionMask[row * sequenceLength + t] !== 0n) tokens.push(t);
    const at = (t: number, d: number) => data[(row * sequenceLength + t) * dimension + d]!;
    const vector = new Array<number>(dimension);
    for (let d = 0; d < dimension; d++) {
      if (mode === 'cls') vector[d] = at(0, d);
      else if (mode === 'max') vector[d] = tokens.reduce((max, t) => Math.max(max, at(t, d)), -Infinity);
      else vector[d] = tokens.reduce((sum, t) => sum + at(t, d), 0) / Math.max(tokens.length, 1);
    }
    vectors.push(normalize ? l2Normalize(vector) : vector);
  }
  return vectors;
}

/** v / max(‖v‖, 1e-12), the epsilon torch's F.normalize uses, so a zero vector stays zero. */
export function l2Normalize(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  return vector.map((x) => x / Math.max(norm, 1e-12));
}
