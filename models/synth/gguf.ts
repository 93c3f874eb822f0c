// Shared GGUF (format v3) vocabulary: value types, tensor types and their byte sizes.

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value type codes, as stored in the file. */
export const GgufValueType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;
export type GgufValueTypeName = keyof typeof GgufValueType;
export type GgufNumberTypeName = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type GgufBigIntTypeName = 'uint64' | 'int64';

/** Text, or the raw bytes of a string read from a file that is not valid UTF-8 (kept so copies are exact). */
export type GgufString = string | Uint8Array;

export type GgufArray =
  | { type: 'array'; itemType: GgufNumberTypeName; values: ArrayLike<number> }
  | { type: 'array'; itemType: GgufBigIntTypeName; values: ArrayLike<bigint> }
  | { type: 'array'; itemType: 'bool'; values: ArrayLike<boolean> }
  | { type: 'array'; itemType: 'string'; values: ArrayLike<GgufString> }
  | { type: 'array'; itemType: 'array'; values: ArrayLike<GgufArray> };

/** One typed metadata value; the type is kept so a value read from one file is written back unchanged. */
export type GgufValue =
  | { type: GgufNumberTypeName; value: number }
  | { type: GgufBigIntTypeName; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: GgufString }
  | GgufArray;

export type GgufKv = readonly [key: string, value: GgufValue];

/** Short constructors for the metadata values this generator writes. */
export const gv = {
  u32: (value: number): GgufValue => ({ type: 'uint32', value }),
  i32: (value: number): GgufValue => ({ type: 'int32', value }),
  f32: (value: number): GgufValue => ({ type: 'float32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  strArr: (values: ArrayLike<string>): GgufValue => ({ type: 'array', itemType: 'string', values }),
  f32Arr: (values: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'float32', values }),
  i32Arr: (values: ArrayLike<number>): GgufValue => ({ type: 'array', itemType: 'int32', values }),
};

/** The ggml tensor types used here (codes from ggml.h). */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlTypeCode = (typeof GgmlType)[keyof typeof GgmlType];

/** Values per block and bytes per block for each supported tensor type. */
const blockLayout: Record<GgmlTypeCode, { values: number; bytes: number }> = {
  [GgmlType.F32]: { values: 1, bytes: 4 },
  [GgmlType.F16]: { values: 1, bytes: 2 },
  [GgmlType.Q8_0]: { values: 32, bytes: 34 }, // f16 scale + 32 int8
};

export function ggmlBlockValues(type: GgmlTypeCode): number {
  return blockLayout[type].values;
}

/** Bytes of one row (ne[0] values); throws when ne[0] does not fill whole blocks. */
export function ggmlRowBytes(type: GgmlTypeCode, ne0: number): number {
  const { values, bytes } = blockLayout[type];
  if (ne0 % values !== 0) throw new Error(`row of ${ne0} values is not a multiple of the ${values}-value block of ggml type ${type}`);
  return (ne0 / values) * bytes;
}

/** Bytes of a whole tensor; dims innermost first (ne[0] first), as in GGUF. */
export function ggmlTensorBytes(type: GgmlTypeCode, dims: readonly number[]): number {
  let rows = 1;
  for (let i = 1; i < dims.length; i++) rows *= dims[i]!;
  return ggmlRowBytes(type, dims[0]!) * rows;
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
