// Random tensor data, produced row-chunk by row-chunk so no tensor is ever held whole in memory.
import { GgmlType, ggmlRowBytes, type GgmlTypeCode } from './gguf.js';
import { Xoshiro128 } from './prng.js';
import { f32ToF16, Q8_0_BLOCK_BYTES } from './quantize.js';

export type TensorFill =
  /** every value 1.0 (RMS-norm weights: the identity scale keeps activations in range) */
  | { kind: 'ones' }
  /** uniform in [-std·√3, std·√3] (so the standard deviation is `std`); rows listed in zeroRows are all zero */
  | { kind: 'uniform'; std: number; zeroRows?: ReadonlySet<number> };

export interface TensorSpec {
  name: string;
  dims: readonly number[];
  type: GgmlTypeCode;
  fill: TensorFill;
}

const f16LutCache = new Map<number, Uint16Array>();

/** 16 random bits -> f16 bits of a uniform value: one table lookup per value instead of a conversion. */
function uniformF16Lut(std: number): Uint16Array {
  let lut = f16LutCache.get(std);
  if (!lut) {
    const a = std * Math.sqrt(3);
    lut = new Uint16Array(65536);
    for (let r = 0; r < 65536; r++) lut[r] = f32ToF16(-a + ((r + 0.5) * 2 * a) / 65536);
    f16LutCache.set(std, lut);
  }
  return lut;
}

/**
 * Fills chunks of whole rows of one tensor. The random stream is consumed per chunk, so the bytes depend on
 * (seed, stream, chunk size); callers keep the chunk size fixed to keep files reproducible.
 */
export class TensorSource {
  readonly rowBytes: number;
  readonly rows: number;
  readonly totalBytes: number;
  private row = 0;
  private readonly rng: Xoshiro128;

  constructor(readonly spec: TensorSpec, seed: number, stream: number) {
    this.rowBytes = ggmlRowBytes(spec.type, spec.dims[0]!);
    this.rows = spec.dims.slice(1).reduce((a, b) => a * b, 1);
    this.totalBytes = this.rowBytes * this.rows;
    this.rng = new Xoshiro128(seed, stream);
    if (spec.fill.kind === 'ones' && spec.type !== GgmlType.F32) throw new Error(`${spec.name}: 'ones' tensors are stored as F32`);
    if (spec.fill.kind === 'uniform' && spec.type === GgmlType.F32) throw new Error(`${spec.name}: random tensors are stored as F16 or Q8_0`);
  }

  /** Largest chunk this source may produce for a given byte budget (at least one row). */
  chunkBytes(budget: number): number {
    return Math.max(1, Math.floor(budget / this.rowBytes)) * this.rowBytes;
  }

  /** Writes the next whole rows (at most `budget` bytes, at least one row) into buf; returns bytes, 0 at the end. */
  next(buf: ArrayBuffer, budget: number): number {
    if (this.row >= this.rows) return 0;
    const rows = Math.min(this.rows - this.row, Math.max(1, Math.floor(budget / this.rowBytes)));
    const bytes = rows * this.rowBytes;
    if (buf.byteLength < Math.ceil(bytes / 4) * 4) throw new Error('TensorSource: chunk buffer too small');
    const fill = this.spec.fill;
    if (fill.kind === 'ones') {
      new Float32Array(buf, 0, bytes / 4).fill(1);
    } else {
      const words = new Uint32Array(buf, 0, Math.ceil(bytes / 4));
      this.rng.fill(words);
      if (this.spec.type === GgmlType.F16) mapF16(new Uint16Array(buf, 0, bytes / 2), uniformF16Lut(fill.std));
      else shapeQ8_0(words, new Uint8Array(buf, 0, bytes), f32ToF16((fill.std * Math.sqrt(3)) / 127));
      if (fill.zeroRows) {
        const out = new Uint8Array(buf, 0, bytes);
        for (let r = 0; r < rows; r++) {
          if (fill.zeroRows.has(this.row + r)) out.fill(0, r * this.rowBytes, (r + 1) * this.rowBytes);
        }
      }
    }
    this.row += rows;
    return bytes;
  }
}

function mapF16(values: Uint16Array, lut: Uint16Array): void {
  for (let i = 0; i < values.length; i++) values[i] = lut[values[i]!]!;
}

/**
 * Turns random bytes in place into Q8_0 blocks: every quant byte stays random (uniform int8), except that
 * -128 becomes -127, which ggml's quantiser never emits; then each block's first two bytes get the scale
 * that maps ±127 to ±std·√3, i.e. exactly what quantising uniform values of that std produces.
 */
function shapeQ8_0(words: Uint32Array, bytes: Uint8Array, scaleF16: number): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const t = w ^ 0x80808080; // bytes that were 0x80 are now 0x00
    const nonZero = (((t & 0x7f7f7f7f) + 0x7f7f7f7f) | t) & 0x80808080;
    words[i] = w | ((~nonZero & 0x80808080) >>> 7); // 0x80 -> 0x81
  }
  const lo = scaleF16 & 0xff;
  const hi = scaleF16 >>> 8;
  for (let o = 0; o < bytes.length; o += Q8_0_BLOCK_BYTES) {
    bytes[o] = lo;
    bytes[o + 1] = hi;
  }
}
