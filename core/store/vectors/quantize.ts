import type { Quantization } from './types.js';

/** How a store's first-pass vectors are declared in vec0 and encoded for it. Cosine distance is
 *  kept for float and int8; bit vectors can only be compared by Hamming distance. */
export function vec0ColumnType(quantization: Quantization, dimensions: number): string {
  switch (quantization) {
    case 'none':
      return `float[${dimensions}] distance_metric=cosine`;
    case 'int8':
      return `int8[${dimensions}] distance_metric=cosine`;
    case 'bit':
      return `bit[${dimensions}]`;
  }
}

/** The SQL expression that turns a bound blob into the vec0 column's vector type. */
export function vec0Parameter(quantization: Quantization): string {
  switch (quantization) {
    case 'none':
      return '?';
    case 'int8':
      return 'vec_int8(?)';
    case 'bit':
      return 'vec_bit(?)';
  }
}

/** The bytes stored in (or matched against) the vec0 column. */
export function encodeForVec0(vector: Float32Array, quantization: Quantization): Buffer {
  switch (quantization) {
    case 'none':
      return float32Blob(vector);
    case 'int8':
      return Buffer.from(quantizeInt8(vector).buffer);
    case 'bit':
      return Buffer.from(quantizeBinary(vector).buffer);
  }
}

export function float32Blob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** int8 with a scale of its own per vector (largest component → ±127). Cosine distance ignores
 *  scale, so this keeps 8 bits of precision for every vector, whereas sqlite-vec's fixed 'unit'
 *  range (−1…1) would leave the small components of a 384-dimensional unit vector a few levels. */
export function quantizeInt8(vector: Float32Array): Int8Array {
  let largest = 0;
  for (const value of vector) largest = Math.max(largest, Math.abs(value));
  const out = new Int8Array(vector.length);
  if (largest === 0) return out;
  const scale = 127 / largest;
  for (let i = 0; i < vector.length; i++) out[i] = Math.round(vector[i]! * scale);
  return out;
}

/** One bit per dimension, set when the component is positive (as vec_quantize_binary does), least
 *  significant bit first. */
export function quantizeBinary(vector: Float32Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(vector.length / 8));
  for (let i = 0; i < vector.length; i++) if (vector[i]! > 0) out[i >> 3]! |= 1 << (i & 7);
  return out;
}
