/** A route's targets in order of preference. An entry that is an array is a tier of equal-priority
 *  replicas, balanced by weight; a single target is a tier of one. E.g. `[[a, b], c]`: a or b
 *  first (by weight), then the other, then c. */
export type RouteChain<T> = readonly (T | readonly T[])[];

export interface Weighted {
  /** Relative share within its tier; default 1. 0: only when the others of its tier failed. */
  weight?: number;
}

/** Orders of chains that have no tier of several replicas (most routes), by chain. */
const fixedOrders = new WeakMap<RouteChain<Weighted>, readonly Weighted[]>();

/** The order in which to try a route's targets for one request: tier after tier, each tier in a
 *  weighted random order without replacement (Efraimidis–Spirakis: sort by u^(1/w)), so a
 *  replica is first in proportion to its weight and the rest of its tier still back it up. */
export function planAttemptOrder<T extends Weighted>(chain: RouteChain<T>, random: () => number = Math.random): readonly T[] {
  const fixed = fixedOrders.get(chain);
  if (fixed) return fixed as readonly T[];
  if (chain.every((entry) => !Array.isArray(entry) || entry.length < 2)) {
    // No tier to balance: the same order for every request, worked out once per chain.
    const order = Object.freeze(chain.flat() as T[]);
    fixedOrders.set(chain, order);
    return order;
  }
  return chain.flatMap((entry) => {
    const tier: readonly T[] = Array.isArray(entry) ? entry : [entry as T];
    if (tier.length < 2) return [...tier];
    return tier
      .map((target) => {
        const weight = Math.max(0, target.weight ?? 1);
        return { target, key: weight === 0 ? -1 : random() ** (1 / weight) };
      })
      .sort((a, b) => b.key - a.key)
      .map(({ target }) => target);
  });
}
