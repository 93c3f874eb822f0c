import { Xoshiro128 } from '../synth/prng.js';

/** Seeded weights: each tensor draws from its own stream (seed, tensor index), so changing one
 *  tensor's shape leaves the others' values alone. */
export class RandomWeights {
  private streams = 0;

  constructor(private readonly seed: number) {}

  /** Uniform values with mean 0 and standard deviation `std` (BERT initialises with 0.02). */
  uniform(count: number, std: number): Float32Array {
    const words = new Uint32Array(count);
    new Xoshiro128(this.seed, this.streams++).fill(words);
    const halfWidth = std * Math.sqrt(3);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = (words[i]! / 2 ** 32) * 2 * halfWidth - halfWidth;
    return values;
  }

  static filled(count: number, value: number): Float32Array {
    return new Float32Array(count).fill(value);
  }
}
