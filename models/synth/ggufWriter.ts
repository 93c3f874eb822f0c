// GGUF v3 serialisation: the header (metadata + tensor infos) is built in memory, tensor data is streamed
// to '<outFile>.tmp-<pid>' and renamed into place only when complete.
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GgufValueType,
  alignUp,
  ggmlTensorBytes,
  type GgmlTypeCode,
  type GgufArray,
  type GgufKv,
  type GgufString,
  type GgufValue,
  type GgufValueTypeName,
} from './gguf.js';

export interface GgufTensorInfo {
  name: string;
  /** innermost first (ne[0] first) */
  dims: readonly number[];
  type: GgmlTypeCode;
}

export interface EncodedGgufHeader {
  /** everything before the tensor data, padded to the alignment */
  header: Buffer;
  /** byte size of each tensor's data, without padding */
  tensorBytes: number[];
  /** total tensor data bytes, including inter-tensor padding */
  dataBytes: number;
  alignment: number;
}

/** Little-endian byte builder that grows as needed. */
class ByteBuilder {
  private buf = Buffer.allocUnsafe(1 << 16);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  i8(v: number): void { this.ensure(1); this.buf.writeInt8(v, this.length); this.length += 1; }
  u16(v: number): void { this.ensure(2); this.buf.writeUInt16LE(v, this.length); this.length += 2; }
  i16(v: number): void { this.ensure(2); this.buf.writeInt16LE(v, this.length); this.length += 2; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
  f32(v: number): void { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  f64(v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.length); this.length += 8; }
  u64(v: number | bigint): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  i64(v: bigint): void { this.ensure(8); this.buf.writeBigInt64LE(v, this.length); this.length += 8; }
  str(s: GgufString): void {
    const n = typeof s === 'string' ? Buffer.byteLength(s, 'utf8') : s.length;
    this.u64(n);
    this.ensure(n);
    if (typeof s === 'string') this.buf.write(s, this.length, n, 'utf8');
    else this.buf.set(s, this.length);
    this.length += n;
  }
  zeros(n: number): void { this.ensure(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  result(): Buffer { return this.buf.subarray(0, this.length); }
}

function writeScalar(b: ByteBuilder, type: Exclude<GgufValueTypeName, 'array'>, v: unknown): void {
  switch (type) {
    case 'uint8': return b.u8(v as number);
    case 'int8': return b.i8(v as number);
    case 'uint16': return b.u16(v as number);
    case 'int16': return b.i16(v as number);
    case 'uint32': return b.u32(v as number);
    case 'int32': return b.i32(v as number);
    case 'float32': return b.f32(v as number);
    case 'float64': return b.f64(v as number);
    case 'uint64': return b.u64(v as bigint);
    case 'int64': return b.i64(v as bigint);
    case 'bool': return b.u8((v as boolean) ? 1 : 0);
    case 'string': return b.str(v as GgufString);
  }
}

function writeArray(b: ByteBuilder, a: GgufArray): void {
  b.u32(GgufValueType[a.itemType]);
  b.u64(a.values.length);
  for (let i = 0; i < a.values.length; i++) {
    const item = a.values[i];
    if (a.itemType === 'array') writeArray(b, item as GgufArray);
    else writeScalar(b, a.itemType, item);
  }
}

function writeValue(b: ByteBuilder, v: GgufValue): void {
  b.u32(GgufValueType[v.type]);
  if (v.type === 'array') writeArray(b, v);
  else writeScalar(b, v.type, v.value);
}

/** Serialises the header: magic, version, counts, metadata KVs, tensor infos, padding to the alignment. */
export function encodeGgufHeader(kvs: readonly GgufKv[], tensors: readonly GgufTensorInfo[]): EncodedGgufHeader {
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const [key, value] of kvs) {
    if (keys.has(key)) throw new Error(`duplicate GGUF metadata key ${key}`);
    keys.add(key);
    if (key === 'general.alignment') {
      if (value.type !== 'uint32' || value.value <= 0 || value.value % 8 !== 0) throw new Error('general.alignment must be a uint32 multiple of 8');
      alignment = value.value;
    }
  }

  const b = new ByteBuilder();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(kvs.length);
  for (const [key, value] of kvs) {
    b.str(key);
    writeValue(b, value);
  }

  const tensorBytes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = ggmlTensorBytes(t.type, t.dims);
    tensorBytes.push(size);
    b.str(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.type);
    b.u64(offset); // relative to the start of the data section
    offset = alignUp(offset + size, alignment);
  }
  b.zeros(alignUp(b.length, alignment) - b.length);
  return { header: Buffer.from(b.result()), tensorBytes, dataBytes: offset, alignment };
}

async function writeFully(fh: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

/**
 * Streams tensor data, in tensor order, after the header. At most one write is in flight: `write()` returns
 * once the previous write has finished, so a caller alternating two buffers may refill the other one while
 * the disk works. The buffer passed to the latest `write()` must not change until the next call returns.
 */
export class GgufFileWriter {
  private pending: Promise<void> = Promise.resolve();
  private tensorIndex = 0;
  private tensorDone = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly tmpFile: string,
    readonly outFile: string,
    private readonly layout: EncodedGgufHeader,
  ) {}

  static async create(outFile: string, layout: EncodedGgufHeader): Promise<GgufFileWriter> {
    await mkdir(dirname(outFile), { recursive: true });
    const tmpFile = `${outFile}.tmp-${process.pid}`;
    const fh = await open(tmpFile, 'w');
    const w = new GgufFileWriter(fh, tmpFile, outFile, layout);
    w.pending = writeFully(fh, layout.header);
    w.skipEmptyTensors();
    return w;
  }

  get totalBytes(): number {
    return this.layout.header.length + this.layout.dataBytes;
  }

  /** Appends bytes to the current tensor; a chunk never spans two tensors. */
  async write(data: Uint8Array): Promise<void> {
    const size = this.layout.tensorBytes[this.tensorIndex];
    if (size === undefined) throw new Error('GGUF writer: more tensor data than declared');
    if (this.tensorDone + data.length > size) throw new Error(`GGUF writer: chunk overruns tensor #${this.tensorIndex}`);
    await this.pending;
    this.tensorDone += data.length;
    let padding = 0;
    if (this.tensorDone === size) {
      this.tensorIndex++;
      this.tensorDone = 0;
      // the last tensor needs no trailing padding, but llama.cpp accepts either; keep offsets uniform
      padding = alignUp(size, this.layout.alignment) - size;
      this.skipEmptyTensors();
    }
    this.pending = writeFully(this.fh, data).then(() => (padding > 0 ? writeFully(this.fh, new Uint8Array(padding)) : undefined));
  }

  private skipEmptyTensors(): void {
    while (this.layout.tensorBytes[this.tensorIndex] === 0) this.tensorIndex++;
  }

  /** Waits for the last write, closes and renames the temporary file to the real name. */
  async finish(): Promise<void> {
    if (this.tensorIndex !== this.layout.tensorBytes.length) throw new Error(`GGUF writer: finished after ${this.tensorIndex} of ${this.layout.tensorBytes.length} tensors`);
    await this.pending;
    this.closed = true;
    await this.fh.close();
    await rename(this.tmpFile, this.outFile);
  }

  /** Drops the temporary file after a failure; never touches outFile. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.pending.catch(() => undefined);
      await this.fh.close().catch(() => undefined);
    }
    await rm(this.tmpFile, { force: true });
  }
}
