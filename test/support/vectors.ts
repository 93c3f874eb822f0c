// Seeded synthetic embeddings and the brute-force truth to check vector search against; shared by
// test/vectorIndex.test.ts and bench/vectors.ts.

import { seededRandom } from '../../core/store/vectors/seededRandom.js';

export { seededRandom };

/** Standard normal by Box–Muller. */
export function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

/** A unit vector in a uniformly random direction. */
export function randomUnitVector(random: () => number, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) vector[i] = gaussian(random);
  return normalize(vector);
}

/** Unit vectors around `clusters` random centres: centre + Gaussian noise of `spread` per unit
 *  length, renormalised; like embeddings of documents on a number of topics. */
export function clusteredVectors(random: () => number, count: number, dimensions: number, clusters: number, spread: number): Float32Array[] {
  const centres = Array.from({ length: clusters }, () => randomUnitVector(random, dimensions));
  const sigma = spread / Math.sqrt(dimensions);
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * clusters)]!;
    const vector = new Float32Array(dimensions);
    for (let i = 0; i < dimensions; i++) vector[i] = centre[i]! + sigma * gaussian(random);
    return normalize(vector);
  });
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! * a[i]!;
    normB += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(normA * normB);
}

/** Indexes of the k most cosine-similar vectors, best first. */
export function bruteForceTopK(vectors: readonly Float32Array[], query: Float32Array, k: number, keep: (i: number) => boolean = () => true): number[] {
  return vectors
    .map((vector, i) => ({ i, similarity: keep(i) ? cosineSimilarity(vector, query) : -Infinity }))
    .filter((entry) => entry.similarity > -Infinity)
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k)
    .map((entry) => entry.i);
}

export function recallAt(k: number, truth: readonly number[], found: readonly number[]): number {
  const expected = new Set(truth.slice(0, k));
  return found.slice(0, k).filter((id) => expected.has(id)).length / expected.size;
}
