/** An inverted-file (IVF) coarse partition of a store's vectors, so that a quantized search reads a
 *  few partitions instead of every vector. Pure computation: the index stores the centroids and
 *  each chunk's partition in SQLite (see schema.ts) and asks this module where a vector goes.
 *
 *  Two levels of spherical k-means (centroids are unit vectors, nearness is the dot product):
 *  `coarse` centroids over a sample, then each coarse cell's sample points split again into `fine`
 *  centroids, as many as its share of the sample. The fine centroids are the partitions. Why two
 *  levels: a flat k-means costs sample × nlist dot products per iteration, which in JavaScript is
 *  tens of seconds for the ~1,000 partitions a 100k store wants; two levels cost sample ×
 *  (coarse + fine-per-cell), about 2·√nlist. And why ~1,000 partitions rather than fewer: with
 *  fewer centroids than the data has natural clusters, Lloyd's iterations settle with some clusters
 *  split over several partitions, and a query then misses part of its neighbours (measured on the
 *  benchmark's data: 256 flat partitions reach partition recall 0.97 only at nprobe 32; ~1,000
 *  two-level partitions reach 1.0 at nprobe 4). nlist = 4·√N is the low end of the usual IVF rule.
 *
 *  Routing (both when a chunk is inserted and when a query picks partitions) looks at the children
 *  of the few nearest coarse centroids only, so it costs ~(coarse + m × fine-per-cell) dot products
 *  rather than nlist. */

import { seededRandom } from './seededRandom.js';

export interface IvfCentroids {
  dimensions: number;
  /** coarse × dimensions, unit vectors. */
  coarse: Float32Array;
  /** fine × dimensions, unit vectors. Partition ids are 1 + the row here. */
  fine: Float32Array;
  /** For each fine centroid, its coarse centroid's row. */
  parent: Int32Array;
}

export interface IvfTrainingOptions {
  /** Number of partitions wanted (fine centroids); the result may differ by a little. */
  nlist: number;
  /** Lloyd iterations per k-means. */
  iterations?: number;
  seed?: number;
}

/** Partitions wanted for n vectors: 4·√n (the low end of the usual IVF rule of thumb), at least 16. */
export function partitionsFor(n: number): number {
  return Math.max(16, Math.min(65_536, Math.round(4 * Math.sqrt(n))));
}

/** Sample size for training nlist partitions: ~16 points per partition, at least 8,192. */
export function trainingSampleSize(n: number, nlist: number): number {
  return Math.min(n, Math.max(8192, 16 * nlist));
}

/** Dot product of a[ao…ao+n) and b[bo…bo+n), four accumulators (about twice as fast in V8 as one). */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += a[ao + j]! * b[bo + j]!;
    s1 += a[ao + j + 1]! * b[bo + j + 1]!;
    s2 += a[ao + j + 2]! * b[bo + j + 2]!;
    s3 += a[ao + j + 3]! * b[bo + j + 3]!;
  }
  for (; j < n; j++) s0 += a[ao + j]! * b[bo + j]!;
  return s0 + s1 + s2 + s3;
}

/** Picks `count` distinct items of `items` (a partial Fisher–Yates shuffle, seeded). */
export function seededSample<T>(items: readonly T[], count: number, seed: number): T[] {
  const random = seededRandom(seed);
  const copy = items.slice();
  const n = Math.min(count, copy.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

/** Spherical k-means of the rows `points` of `data` (rows of `dimensions`), initialised on the first
 *  k points (the caller shuffled them). Returns k × dimensions unit centroids. A centroid that loses
 *  all its points keeps its place. */
function sphericalKMeans(data: Float32Array, dimensions: number, points: readonly number[], k: number, iterations: number): Float32Array {
  const centroids = new Float32Array(k * dimensions);
  for (let c = 0; c < k; c++) centroids.set(data.subarray(points[c]! * dimensions, (points[c]! + 1) * dimensions), c * dimensions);
  if (k === 1 && points.length === 1) return centroids;
  const sums = new Float64Array(k * dimensions);
  const counts = new Int32Array(k);
  for (let iteration = 0; iteration < iterations; iteration++) {
    sums.fill(0);
    counts.fill(0);
    let moved = false;
    for (const point of points) {
      const offset = point * dimensions;
      const c = nearestRow(centroids, k, dimensions, data, offset);
      counts[c]!++;
      const base = c * dimensions;
      for (let j = 0; j < dimensions; j++) sums[base + j]! += data[offset + j]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue;
      const base = c * dimensions;
      let norm = 0;
      for (let j = 0; j < dimensions; j++) norm += sums[base + j]! * sums[base + j]!;
      norm = Math.sqrt(norm);
      if (norm === 0) continue;
      for (let j = 0; j < dimensions; j++) {
        const value = sums[base + j]! / norm;
        if (!moved && Math.abs(value - centroids[base + j]!) > 1e-6) moved = true;
        centroids[base + j] = value;
      }
    }
    if (!moved) break;
  }
  return centroids;
}

function nearestRow(rows: Float32Array, count: number, dimensions: number, vector: Float32Array, offset: number): number {
  let best = -Infinity;
  let bestRow = 0;
  for (let r = 0; r < count; r++) {
    const score = dot(rows, r * dimensions, vector, offset, dimensions);
    if (score > best) {
      best = score;
      bestRow = r;
    }
  }
  return bestRow;
}

/** Trains the two-level partition on `sample` (unit vectors; shuffled, so that the first points are
 *  a fair initialisation). */
export function trainIvf(sample: readonly Float32Array[], dimensions: number, options: IvfTrainingOptions): IvfCentroids {
  const iterations = options.iterations ?? 8;
  const n = sample.length;
  if (n === 0) throw new Error('cannot train a partition on no vectors');
  const data = new Float32Array(n * dimensions);
  sample.forEach((vector, i) => data.set(normalized(vector), i * dimensions));
  const nlist = Math.max(1, Math.min(options.nlist, n));
  const coarseCount = Math.max(1, Math.min(n, Math.round(Math.sqrt(nlist))));
  const all = Array.from({ length: n }, (_, i) => i);
  const coarse = sphericalKMeans(data, dimensions, all, coarseCount, iterations);

  const cells: number[][] = Array.from({ length: coarseCount }, () => []);
  for (let i = 0; i < n; i++) cells[nearestRow(coarse, coarseCount, dimensions, data, i * dimensions)]!.push(i);
  const fineParts: Float32Array[] = [];
  const parents: number[] = [];
  cells.forEach((cell, c) => {
    if (cell.length === 0) return; // an empty coarse cell gets no partitions; routing skips it
    const k = Math.max(1, Math.min(cell.length, Math.round((nlist * cell.length) / n)));
    fineParts.push(sphericalKMeans(data, dimensions, cell, k, iterations));
    for (let i = 0; i < k; i++) parents.push(c);
  });
  const fine = new Float32Array(parents.length * dimensions);
  let offset = 0;
  for (const part of fineParts) {
    fine.set(part, offset);
    offset += part.length;
  }
  return { dimensions, coarse, fine, parent: Int32Array.from(parents) };
}

function normalized(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  if (norm === 0 || Math.abs(norm - 1) < 1e-6) return vector;
  return vector.map((value) => value / norm);
}

/** Routes vectors to partitions (ids from 1) with trained centroids. */
export class IvfRouter {
  private readonly coarseCount: number;
  private readonly children: Int32Array[];

  constructor(readonly centroids: IvfCentroids) {
    const { coarse, fine, parent, dimensions } = centroids;
    this.coarseCount = coarse.length / dimensions;
    const lists: number[][] = Array.from({ length: this.coarseCount }, () => []);
    for (let f = 0; f < fine.length / dimensions; f++) lists[parent[f]!]!.push(f);
    this.children = lists.map((list) => Int32Array.from(list));
  }

  get partitionCount(): number {
    return this.centroids.fine.length / this.centroids.dimensions;
  }

  /** The partition a vector is stored in: its nearest fine centroid among the children of its
   *  `coarseProbe` nearest coarse centroids. */
  assign(vector: Float32Array, coarseProbe = 3): number {
    return this.nearest(vector, 1, coarseProbe)[0]!;
  }

  /** The `nprobe` partitions nearest to a query, nearest first, from the children of its
   *  `coarseProbe` nearest coarse centroids. */
  nearest(vector: Float32Array, nprobe: number, coarseProbe: number): number[] {
    const { coarse, fine, dimensions } = this.centroids;
    const coarseScores: { c: number; score: number }[] = [];
    for (let c = 0; c < this.coarseCount; c++) {
      if (this.children[c]!.length > 0) coarseScores.push({ c, score: dot(coarse, c * dimensions, vector, 0, dimensions) });
    }
    coarseScores.sort((a, b) => b.score - a.score);
    const fineScores: { f: number; score: number }[] = [];
    for (const { c } of coarseScores.slice(0, Math.max(1, coarseProbe))) {
      for (const f of this.children[c]!) fineScores.push({ f, score: dot(fine, f * dimensions, vector, 0, dimensions) });
    }
    fineScores.sort((a, b) => b.score - a.score);
    return fineScores.slice(0, Math.max(1, nprobe)).map(({ f }) => f + 1);
  }
}
