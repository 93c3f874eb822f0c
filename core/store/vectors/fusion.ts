/** Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): each ranking contributes
 *  1 / (k + rank), rank from 1. k = 60 is the paper's constant: it damps the weight of the very
 *  top ranks so that one list cannot drown the other. */
export const rrfK = 60;

/** Fuses rankings (ids, best first) into scores in [0, 1]: the raw RRF sum divided by its largest
 *  possible value, rankings.length / (k + 1), i.e. 1 for an id ranked first everywhere, 0.5 for an
 *  id ranked first in one of two lists and absent from the other. Best first. */
export function reciprocalRankFusion<Id>(rankings: readonly (readonly Id[])[], k = rrfK): { id: Id; score: number }[] {
  const sums = new Map<Id, number>();
  for (const ranking of rankings) {
    ranking.forEach((id, i) => sums.set(id, (sums.get(id) ?? 0) + 1 / (k + i + 1)));
  }
  const best = rankings.length / (k + 1);
  return [...sums].map(([id, sum]) => ({ id, score: sum / best })).sort((a, b) => b.score - a.score);
}

/** Cosine distance (0…2) to a score in [0, 1]: (1 + cosine similarity) / 2. */
export function cosineDistanceToScore(distance: number): number {
  return Math.min(1, Math.max(0, 1 - distance / 2));
}

/** FTS5's bm25() (negative, lower is better) to a score in [0, 1): x / (1 + x) with x = −bm25.
 *  Absolute rather than relative to the best hit, so a score threshold means the same thing for
 *  every query; the catch is that terms found in most chunks of a store score low. */
export function bm25ToScore(bm25: number): number {
  const x = Math.max(0, -bm25);
  return x / (1 + x);
}
