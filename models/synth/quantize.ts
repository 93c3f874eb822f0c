// Number formats of the tensor data: IEEE half floats and ggml's Q8_0 blocks.
import { ggmlBlockValues, GgmlType } from './gguf.js';

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

/** f32 -> IEEE 754 binary16 bits, round to nearest even, with subnormals, ±Inf and NaN. */
export function f32ToF16(value: number): number {
  f32Buf[0] = value;
  const x = u32Buf[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    // subnormal: the implicit 1 becomes explicit and the mantissa shifts right
    const full = mant | 0x800000;
    const shift = 14 - e;
    let half = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to Inf)
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

/** IEEE 754 binary16 bits -> number. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export const Q8_0_BLOCK_VALUES = ggmlBlockValues(GgmlType.Q8_0); // 32
export const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK_VALUES; // f16 scale, then 32 int8

/** Reference Q8_0 quantisation (as ggml's quantize_row_q8_0_ref): per 32 values d = max|x|/127, q = round(x/d). */
export function quantizeQ8_0(values: ArrayLike<number>): Uint8Array {
  if (values.length % Q8_0_BLOCK_VALUES !== 0) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK_VALUES} values, got ${values.length}`);
  const blocks = values.length / Q8_0_BLOCK_VALUES;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const q = new Int8Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK_VALUES;
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK_VALUES; i++) amax = Math.max(amax, Math.abs(values[base + i]!));
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    const dh = f32ToF16(d);
    out[o] = dh & 0xff;
    out[o + 1] = dh >>> 8;
    for (let i = 0; i < Q8_0_BLOCK_VALUES; i++) {
      const x = values[base + i]! * id;
      q[o + 2 + i] = Math.sign(x) * Math.round(Math.abs(x)); // roundf: halves away from zero
    }
  }
  return out;
}

export function dequantizeQ8_0(data: Uint8Array): Float32Array {
  if (data.length % Q8_0_BLOCK_BYTES !== 0) throw new Error('Q8_0 data is not a whole number of blocks');
  const blocks = data.length / Q8_0_BLOCK_BYTES;
  const out = new Float32Array(blocks * Q8_0_BLOCK_VALUES);
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16ToF32(data[o]! | (data[o + 1]! << 8));
    for (let i = 0; i < Q8_0_BLOCK_VALUES; i++) {
      const v = data[o + 2 + i]!;
      out[b * Q8_0_BLOCK_VALUES + i] = (v > 127 ? v - 256 : v) * d;
    }
  }
  return out;
}
