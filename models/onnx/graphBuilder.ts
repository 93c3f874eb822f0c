// A small helper to write an ONNX graph as code: each `op` call appends a node and returns the
// name of its output, so a model reads like the computation it performs.
import {
  OnnxAttributeType,
  OnnxDataType,
  type AttributeMessage,
  type GraphMessage,
  type NodeMessage,
  type OnnxDataTypeCode,
  type TensorMessage,
  type ValueInfoMessage,
} from './onnxProto.js';

/** An attribute value, tagged so that 1 (int) and 1.0 (float) stay distinct. */
export type AttributeValue = { int: number } | { float: number } | { ints: number[] };

/** A dimension: a fixed size, or a name for a dynamic axis. */
export type Dimension = number | string;

function attribute(name: string, value: AttributeValue): AttributeMessage {
  if ('int' in value) return { name, type: OnnxAttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: OnnxAttributeType.FLOAT, f: value.float };
  return { name, type: OnnxAttributeType.INTS, ints: value.ints };
}

function valueInfo(name: string, elemType: OnnxDataTypeCode, dims: Dimension[]): ValueInfoMessage {
  const dim = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: elemType, shape: { dim } } } };
}

function bytesOf(values: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private readonly usedNames = new Set<string>();
  private parameterCount = 0;

  constructor(private readonly name: string) {}

  input(name: string, elemType: OnnxDataTypeCode, dims: Dimension[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Marks `value` as a graph output named `name` (through an Identity node when they differ). */
  output(value: string, name: string, elemType: OnnxDataTypeCode, dims: Dimension[]): void {
    if (value !== name) this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** A learned weight; counted in `parameters`. */
  weight(name: string, dims: number[], values: Float32Array): string {
    this.parameterCount += values.length;
    return this.initializer(name, OnnxDataType.FLOAT, dims, values);
  }

  floatConstant(name: string, dims: number[], values: number[]): string {
    return this.initializer(name, OnnxDataType.FLOAT, dims, Float32Array.from(values));
  }

  int64Constant(name: string, dims: number[], values: number[]): string {
    return this.initializer(name, OnnxDataType.INT64, dims, BigInt64Array.from(values, BigInt));
  }

  /** Appends a node; returns its (first) output's name, `outputName` or a fresh one. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputName?: string): string {
    const output = outputName ?? this.freshName(opType);
    this.claim(output);
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      op_type: opType,
      input: inputs,
      output: [output],
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return output;
  }

  get parameters(): number {
    return this.parameterCount;
  }

  build(): GraphMessage {
    return { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }

  private initializer(name: string, dataType: OnnxDataTypeCode, dims: number[], values: Float32Array | BigInt64Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== values.length) throw new Error(`initializer ${name}: ${values.length} values for shape [${dims.join(', ')}]`);
    this.claim(name);
    this.initializers.push({ name, dims, data_type: dataType, raw_data: bytesOf(values) });
    return name;
  }

  private freshName(opType: string): string {
    return `${opType.toLowerCase()}_${this.nodes.length}`;
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`ONNX graph ${this.name}: the name ${name} is used twice`);
    this.usedNames.add(name);
  }
}
