// Model shapes. `small` and `1b` copy the shapes of SmolLM-135M and TinyLlama-1.1B (with an untied output
// matrix), so a generated file decodes at the speed of the real model of that shape.

export type SynthPreset = 'tiny' | 'small' | '1b';
export type SynthQuant = 'f16' | 'q8_0';

export interface SynthShape {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  /** vocabulary size with the built-in tokenizer; `vocabFrom` replaces it by that file's token count */
  nVocab: number;
  contextLength: number;
  rmsEps: number;
  ropeFreqBase: number;
  /** default quantisation for this preset */
  quant: SynthQuant;
}

export const synthPresets: Record<SynthPreset, Readonly<SynthShape>> = {
  // n_ff 192 rather than a 2.7×n_embd 172: Q8_0 rows must be whole 32-value blocks
  tiny: { nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 192, nVocab: 512, contextLength: 2048, rmsEps: 1e-5, ropeFreqBase: 10000, quant: 'f16' },
  small: { nEmbd: 576, nLayer: 30, nHead: 9, nHeadKv: 3, nFf: 1536, nVocab: 49152, contextLength: 2048, rmsEps: 1e-5, ropeFreqBase: 10000, quant: 'q8_0' },
  '1b': { nEmbd: 2048, nLayer: 22, nHead: 32, nHeadKv: 4, nFf: 5632, nVocab: 32000, contextLength: 2048, rmsEps: 1e-5, ropeFreqBase: 10000, quant: 'q8_0' },
};

export function isSynthPreset(v: string): v is SynthPreset {
  return Object.hasOwn(synthPresets, v);
}
