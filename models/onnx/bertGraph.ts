// A BERT encoder as an ONNX graph (opset 17): word + position + token-type embeddings, then
// post-LayerNorm transformer layers with masked multi-head self-attention and an erf GELU
// feed-forward block. The attention mask really masks (padded keys get a -10000 bias), so a
// padded batch gives each sequence the same hidden states as running it alone.
import { GraphBuilder } from './graphBuilder.js';
import { OnnxDataType, type GraphMessage } from './onnxProto.js';
import { RandomWeights } from './randomWeights.js';

export interface BertShape {
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
}

export const BERT_OPSET = 17;
const INIT_STD = 0.02;
const MASKED_BIAS = -10000;

export function checkBertShape(shape: BertShape): void {
  for (const [key, value] of Object.entries(shape)) {
    if (key !== 'layerNormEps' && !(Number.isInteger(value) && value > 0)) throw new Error(`${key} must be a positive integer, got ${value}`);
  }
  if (shape.hiddenSize % shape.heads !== 0) throw new Error(`hiddenSize ${shape.hiddenSize} is not divisible by heads ${shape.heads}`);
}

export function bertGraph(shape: BertShape, seed: number): { graph: GraphMessage; parameters: number } {
  checkBertShape(shape);
  const g = new GraphBuilder('bert_encoder');
  const random = new RandomWeights(seed);
  const H = shape.hiddenSize;
  const headSize = H / shape.heads;
  const dynamic = ['batch', 'sequence'];
  const normal = (name: string, dims: number[]) => g.weight(name, dims, random.uniform(dims.reduce((a, b) => a * b, 1), INIT_STD));
  const filled = (name: string, dims: number[], value: number) => g.weight(name, dims, RandomWeights.filled(dims.reduce((a, b) => a * b, 1), value));
  const layerNorm = (x: string, prefix: string) =>
    g.op('LayerNormalization', [x, filled(`${prefix}.weight`, [H], 1), filled(`${prefix}.bias`, [H], 0)], { axis: { int: -1 }, epsilon: { float: shape.layerNormEps } });
  const linear = (x: string, prefix: string, inSize: number, outSize: number) =>
    g.op('Add', [g.op('MatMul', [x, normal(`${prefix}.weight`, [inSize, outSize])]), filled(`${prefix}.bias`, [outSize], 0)]);

  const inputIds = g.input('input_ids', OnnxDataType.INT64, dynamic);
  const attentionMask = g.input('attention_mask', OnnxDataType.INT64, dynamic);
  const tokenTypeIds = g.input('token_type_ids', OnnxDataType.INT64, dynamic);

  // Embeddings: positions 0..seq-1 are the first `seq` rows of the position table.
  const words = g.op('Gather', [normal('embeddings.word_embeddings.weight', [shape.vocabSize, H]), inputIds], { axis: { int: 0 } });
  const seqLength = g.op('Shape', [inputIds], { start: { int: 1 }, end: { int: 2 } });
  const zero = g.int64Constant('const.zero', [1], [0]);
  const positions = g.op('Slice', [normal('embeddings.position_embeddings.weight', [shape.maxPositions, H]), zero, seqLength, zero]);
  const types = g.op('Gather', [normal('embeddings.token_type_embeddings.weight', [shape.typeVocabSize, H]), tokenTypeIds], { axis: { int: 0 } });
  let hidden = layerNorm(g.op('Add', [g.op('Add', [words, positions]), types]), 'embeddings.LayerNorm');

  // (1 - mask) * -10000, shaped [batch, 1, 1, seq] to broadcast over heads and query positions.
  const maskFloat = g.op('Cast', [attentionMask], { to: { int: OnnxDataType.FLOAT } });
  const one = g.floatConstant('const.one', [], [1]);
  const maskBias = g.op('Unsqueeze', [
    g.op('Mul', [g.op('Sub', [one, maskFloat]), g.floatConstant('const.masked_bias', [], [MASKED_BIAS])]),
    g.int64Constant('const.mask_axes', [2], [1, 2]),
  ]);
  const splitHeadsShape = g.int64Constant('const.split_heads_shape', [4], [0, 0, shape.heads, headSize]);
  const mergeHeadsShape = g.int64Constant('const.merge_heads_shape', [3], [0, 0, H]);
  const scale = g.floatConstant('const.attention_scale', [], [1 / Math.sqrt(headSize)]);
  const sqrtTwo = g.floatConstant('const.sqrt_two', [], [Math.SQRT2]);
  const half = g.floatConstant('const.half', [], [0.5]);
  // [batch, seq, H] -> [batch, heads, seq, headSize] (perm [0, 2, 1, 3]) or its key form [batch, heads, headSize, seq].
  const heads = (x: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [x, splitHeadsShape])], { perm: { ints: perm } });

  for (let layer = 0; layer < shape.layers; layer++) {
    const p = `encoder.layer.${layer}`;
    const query = heads(linear(hidden, `${p}.attention.self.query`, H, H), [0, 2, 1, 3]);
    const key = heads(linear(hidden, `${p}.attention.self.key`, H, H), [0, 2, 3, 1]);
    const value = heads(linear(hidden, `${p}.attention.self.value`, H, H), [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [query, key]), scale]), maskBias]);
    const probabilities = g.op('Softmax', [scores], { axis: { int: -1 } });
    const context = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probabilities, value])], { perm: { ints: [0, 2, 1, 3] } }), mergeHeadsShape]);
    const attended = layerNorm(g.op('Add', [linear(context, `${p}.attention.output.dense`, H, H), hidden]), `${p}.attention.output.LayerNorm`);

    // GELU(x) = 0.5 * x * (1 + erf(x / sqrt 2)); opset 17 has no Gelu operator.
    const intermediate = linear(attended, `${p}.intermediate.dense`, H, shape.intermediateSize);
    const gelu = g.op('Mul', [g.op('Mul', [intermediate, g.op('Add', [g.op('Erf', [g.op('Div', [intermediate, sqrtTwo])]), one])]), half]);
    hidden = layerNorm(g.op('Add', [linear(gelu, `${p}.output.dense`, shape.intermediateSize, H), attended]), `${p}.output.LayerNorm`);
  }

  g.output(hidden, 'last_hidden_state', OnnxDataType.FLOAT, [...dynamic, H]);
  return { graph: g.build(), parameters: g.parameters };
}
