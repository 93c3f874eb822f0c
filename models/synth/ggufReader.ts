// Reads the metadata of a GGUF file (v2/v3) with its value types preserved, so keys can be copied verbatim
// into another file. Tensor infos and data are not read.
import { closeSync, openSync, readSync } from 'node:fs';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType, type GgufArray, type GgufKv, type GgufString, type GgufValue, type GgufValueTypeName } from './gguf.js';

export interface GgufMetadata {
  version: number;
  tensorCount: bigint;
  alignment: number;
  kvs: GgufKv[];
}

const typeNames = Object.fromEntries(Object.entries(GgufValueType).map(([k, v]) => [v, k])) as Record<number, GgufValueTypeName>;
// fatal: invalid UTF-8 is kept as raw bytes; ignoreBOM: a token may be exactly U+FEFF (llama-2's vocab has one)
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Sequential reader over a file descriptor that refills its window on demand (the metadata can be MBs). */
class FileCursor {
  private buf = Buffer.alloc(0);
  private pos = 0; // position inside buf
  private fileOffset = 0; // file offset of buf[0]

  constructor(private readonly fd: number, private readonly path: string) {}

  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const keep = this.buf.subarray(this.pos);
    const next = Buffer.allocUnsafe(Math.max(n, 1 << 20));
    keep.copy(next);
    let filled = keep.length;
    const readAt = this.fileOffset + this.buf.length;
    while (filled < n) {
      const got = readSync(this.fd, next, filled, next.length - filled, readAt + filled - keep.length);
      if (got === 0) throw new Error(`${this.path}: unexpected end of file while reading GGUF metadata`);
      filled += got;
    }
    this.fileOffset += this.pos;
    this.buf = next.subarray(0, filled);
    this.pos = 0;
  }

  u8(): number { this.need(1); return this.buf.readUInt8(this.pos++); }
  i8(): number { this.need(1); return this.buf.readInt8(this.pos++); }
  u16(): number { this.need(2); const v = this.buf.readUInt16LE(this.pos); this.pos += 2; return v; }
  i16(): number { this.need(2); const v = this.buf.readInt16LE(this.pos); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
  i32(): number { this.need(4); const v = this.buf.readInt32LE(this.pos); this.pos += 4; return v; }
  f32(): number { this.need(4); const v = this.buf.readFloatLE(this.pos); this.pos += 4; return v; }
  f64(): number { this.need(8); const v = this.buf.readDoubleLE(this.pos); this.pos += 8; return v; }
  u64(): bigint { this.need(8); const v = this.buf.readBigUInt64LE(this.pos); this.pos += 8; return v; }
  i64(): bigint { this.need(8); const v = this.buf.readBigInt64LE(this.pos); this.pos += 8; return v; }
  /** a u64 that must fit a JS number (lengths, counts) */
  count(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.path}: implausible ${what} ${v}`);
    return Number(v);
  }
  str(): GgufString {
    const n = this.count('string length');
    this.need(n);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8.decode(bytes);
    } catch {
      return Uint8Array.from(bytes);
    }
  }
}

function typeName(code: number, path: string): GgufValueTypeName {
  const name = typeNames[code];
  if (name === undefined) throw new Error(`${path}: unknown GGUF value type ${code}`);
  return name;
}

function readScalar(c: FileCursor, type: Exclude<GgufValueTypeName, 'array'>): number | bigint | boolean | GgufString {
  switch (type) {
    case 'uint8': return c.u8();
    case 'int8': return c.i8();
    case 'uint16': return c.u16();
    case 'int16': return c.i16();
    case 'uint32': return c.u32();
    case 'int32': return c.i32();
    case 'float32': return c.f32();
    case 'float64': return c.f64();
    case 'uint64': return c.u64();
    case 'int64': return c.i64();
    case 'bool': return c.u8() !== 0;
    case 'string': return c.str();
  }
}

function readArray(c: FileCursor, path: string): GgufArray {
  const itemType = typeName(c.u32(), path);
  const n = c.count('array length');
  // numeric arrays go into typed arrays: token scores/types of 150k-token vocabularies stay compact
  switch (itemType) {
    case 'float32': { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = c.f32(); return { type: 'array', itemType, values: a }; }
    case 'int32': { const a = new Int32Array(n); for (let i = 0; i < n; i++) a[i] = c.i32(); return { type: 'array', itemType, values: a }; }
    case 'uint32': { const a = new Uint32Array(n); for (let i = 0; i < n; i++) a[i] = c.u32(); return { type: 'array', itemType, values: a }; }
    case 'array': { const a: GgufArray[] = []; for (let i = 0; i < n; i++) a.push(readArray(c, path)); return { type: 'array', itemType, values: a }; }
    case 'string': { const a: GgufString[] = []; for (let i = 0; i < n; i++) a.push(c.str()); return { type: 'array', itemType, values: a }; }
    case 'bool': { const a: boolean[] = []; for (let i = 0; i < n; i++) a.push(c.u8() !== 0); return { type: 'array', itemType, values: a }; }
    case 'uint64': case 'int64': { const a: bigint[] = []; for (let i = 0; i < n; i++) a.push(readScalar(c, itemType) as bigint); return { type: 'array', itemType, values: a }; }
    default: { const a: number[] = []; for (let i = 0; i < n; i++) a.push(readScalar(c, itemType) as number); return { type: 'array', itemType, values: a }; }
  }
}

function readValue(c: FileCursor, path: string): GgufValue {
  const type = typeName(c.u32(), path);
  if (type === 'array') return readArray(c, path);
  return { type, value: readScalar(c, type) } as GgufValue;
}

export function readGgufMetadata(path: string): GgufMetadata {
  const fd = openSync(path, 'r');
  try {
    const c = new FileCursor(fd, path);
    if (c.u32() !== GGUF_MAGIC) throw new Error(`${path}: not a GGUF file`);
    const version = c.u32();
    if (version !== 2 && version !== 3) throw new Error(`${path}: unsupported GGUF version ${version}`);
    const tensorCount = c.u64();
    const kvCount = c.count('metadata count');
    const kvs: GgufKv[] = [];
    let alignment = GGUF_DEFAULT_ALIGNMENT;
    for (let i = 0; i < kvCount; i++) {
      const key = c.str();
      if (typeof key !== 'string') throw new Error(`${path}: metadata key #${i} is not valid UTF-8`);
      const value = readValue(c, path);
      if (key === 'general.alignment' && value.type === 'uint32') alignment = value.value;
      kvs.push([key, value]);
    }
    return { version, tensorCount, alignment, kvs };
  } finally {
    closeSync(fd);
  }
}
