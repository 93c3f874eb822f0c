// The llama architecture as llama.cpp expects it in GGUF: tensor names/shapes and hyperparameter keys.
import { GgmlType, gv, type GgmlTypeCode, type GgufKv } from './gguf.js';
import type { SynthQuant, SynthShape } from './presets.js';
import type { TensorSpec } from './weights.js';

/** Standard deviation of the random weights: the usual init scale keeps activations finite through the layers. */
export const WEIGHT_STD = 0.02;
/**
 * Standard deviation of the logits. output_norm leaves the final hidden state with RMS 1, so output.weight
 * with std σ/√n_embd gives logits of std σ. With 0.02 they would be nearly uniform; a real model's next-token
 * distribution is peaked, which also keeps top-p/min-p sampling costs realistic.
 */
export const LOGIT_STD = 3;

/** general.file_type values (llama_ftype). */
const FILE_TYPE: Record<SynthQuant, number> = { f16: 1, q8_0: 7 };

export function fileType(quant: SynthQuant): number {
  return FILE_TYPE[quant];
}

export function checkShape(s: SynthShape): void {
  const ints = [s.nEmbd, s.nLayer, s.nHead, s.nHeadKv, s.nFf, s.nVocab, s.contextLength];
  if (!ints.every((v) => Number.isInteger(v) && v > 0)) throw new Error('model shape values must be positive integers');
  if (s.nEmbd % s.nHead !== 0) throw new Error(`n_embd ${s.nEmbd} is not a multiple of n_head ${s.nHead}`);
  if (s.nHead % s.nHeadKv !== 0) throw new Error(`n_head ${s.nHead} is not a multiple of n_head_kv ${s.nHeadKv}`);
}

/**
 * Tensor list in file order. `suppressedTokens` rows of output.weight are zero (see TokenizerSpec). Q8_0 needs
 * rows of whole 32-value blocks; a matrix whose rows do not fit falls back to F16, as llama-quantize does.
 */
export function llamaTensors(s: SynthShape, nVocab: number, quant: SynthQuant, suppressedTokens: ReadonlySet<number>): TensorSpec[] {
  const nEmbdKv = (s.nEmbd / s.nHead) * s.nHeadKv;
  const matType = (ne0: number): GgmlTypeCode => (quant === 'q8_0' && ne0 % 32 === 0 ? GgmlType.Q8_0 : GgmlType.F16);
  const mat = (name: string, ne0: number, ne1: number, std = WEIGHT_STD, zeroRows?: ReadonlySet<number>): TensorSpec => ({
    name,
    dims: [ne0, ne1],
    type: matType(ne0),
    fill: { kind: 'uniform', std, zeroRows },
  });
  const norm = (name: string): TensorSpec => ({ name, dims: [s.nEmbd], type: GgmlType.F32, fill: { kind: 'ones' } });

  const tensors: TensorSpec[] = [
    mat('token_embd.weight', s.nEmbd, nVocab),
    norm('output_norm.weight'),
    mat('output.weight', s.nEmbd, nVocab, LOGIT_STD / Math.sqrt(s.nEmbd), suppressedTokens.size > 0 ? suppressedTokens : undefined),
  ];
  for (let i = 0; i < s.nLayer; i++) {
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      mat(`blk.${i}.attn_q.weight`, s.nEmbd, s.nEmbd),
      mat(`blk.${i}.attn_k.weight`, s.nEmbd, nEmbdKv),
      mat(`blk.${i}.attn_v.weight`, s.nEmbd, nEmbdKv),
      mat(`blk.${i}.attn_output.weight`, s.nEmbd, s.nEmbd),
      norm(`blk.${i}.ffn_norm.weight`),
      mat(`blk.${i}.ffn_gate.weight`, s.nEmbd, s.nFf),
      mat(`blk.${i}.ffn_up.weight`, s.nEmbd, s.nFf),
      mat(`blk.${i}.ffn_down.weight`, s.nFf, s.nEmbd),
    );
  }
  return tensors;
}

/** general.* and llama.* keys (the tokenizer.* keys come from the tokenizer). */
export function llamaMetadata(s: SynthShape, nVocab: number, quant: SynthQuant, name: string): GgufKv[] {
  return [
    ['general.architecture', gv.str('llama')],
    ['general.name', gv.str(name)],
    ['general.file_type', gv.u32(fileType(quant))],
    ['general.quantization_version', gv.u32(2)],
    ['general.alignment', gv.u32(32)],
    ['llama.vocab_size', gv.u32(nVocab)],
    ['llama.context_length', gv.u32(s.contextLength)],
    ['llama.embedding_length', gv.u32(s.nEmbd)],
    ['llama.block_count', gv.u32(s.nLayer)],
    ['llama.feed_forward_length', gv.u32(s.nFf)],
    ['llama.attention.head_count', gv.u32(s.nHead)],
    ['llama.attention.head_count_kv', gv.u32(s.nHeadKv)],
    ['llama.rope.dimension_count', gv.u32(s.nEmbd / s.nHead)],
    ['llama.rope.freq_base', gv.f32(s.ropeFreqBase)],
    ['llama.attention.layer_norm_rms_epsilon', gv.f32(s.rmsEps)],
  ];
}
