import { rendezvousScore } from './stickyKey.js';

/** What choosing a member looks at. */
export interface MemberLoad {
  /** Requests in flight on the member (until their stream ends). */
  outstanding: number;
  /** Its last health check passed (or none has run yet). */
  healthy: boolean;
  /** Its circuit breaker is open: attempts would be refused without a request. */
  circuitOpen: boolean;
  /** Hash of its base URL, for rendezvous hashing. */
  seed: number;
}

export interface MemberOrder {
  /** Indices into the members, best first. */
  order: number[];
  /** How many of the first are usable (healthy, circuit not open); the rest are a last resort. */
  usable: number;
}

export interface OrderOptions {
  /** The conversation prefix's hash; undefined: no sticky choice. */
  prefixHash?: number;
  /** How many more requests in flight than the least busy member the preferred one may have. */
  maxExtraOutstanding: number;
  /** Breaks ties between equally busy members, so that one-at-a-time traffic rotates. */
  rotation: number;
}

/** The order in which to try a pool's members for one request (indices into `members`):
 *  usable members (healthy, circuit not open) by fewest requests in flight, with the
 *  conversation's preferred member first unless it is much busier; then the others by load, as
 *  a last resort (a health check can lag, and all failing checks must not mean no service). */
export function orderMembers(members: readonly MemberLoad[], options: OrderOptions): MemberOrder {
  const count = members.length;
  const turn = (index: number) => (((index - options.rotation) % count) + count) % count;
  const byLoad = (a: number, b: number) => members[a]!.outstanding - members[b]!.outstanding || turn(a) - turn(b);
  const usable: number[] = [];
  const others: number[] = [];
  for (let index = 0; index < count; index++) {
    const member = members[index]!;
    (member.healthy && !member.circuitOpen ? usable : others).push(index);
  }
  usable.sort(byLoad);
  others.sort(byLoad);
  if (options.prefixHash !== undefined && usable.length > 1) {
    let preferred = 0;
    let best = -1;
    for (let position = 0; position < usable.length; position++) {
      const score = rendezvousScore(options.prefixHash, members[usable[position]!]!.seed);
      if (score > best) [best, preferred] = [score, position];
    }
    const leastBusy = members[usable[0]!]!.outstanding;
    if (preferred > 0 && members[usable[preferred]!]!.outstanding <= leastBusy + options.maxExtraOutstanding) {
      usable.unshift(...usable.splice(preferred, 1));
    }
  }
  return { order: [...usable, ...others], usable: usable.length };
}
