/** Who is asking, for fair sharing: the API key (or client address without auth), the end user
 *  behind it (OpenAI's `user` field: one team app behind one key serves many people), and how
 *  urgent the work is. */
export interface Ticket {
  caller: string;
  user?: string;
  priority: Priority;
}

export type Priority = 'interactive' | 'background';
const priorities: readonly Priority[] = ['interactive', 'background'];

interface Flow<Child> {
  /** Stride scheduling's pass: the flow with the lowest pass is served next, then its pass grows. */
  pass: number;
  child: Child;
}

/** One level of fair sharing among named flows. A flow that (re)joins starts at the level's
 *  current virtual time, so an idle caller banks no credit and a new one waits for nobody. */
class FairLevel<Child> {
  readonly flows = new Map<string, Flow<Child>>();
  private virtualTime = 0;

  flow(name: string, create: () => Child): Flow<Child> {
    let flow = this.flows.get(name);
    if (!flow) {
      flow = { pass: this.virtualTime, child: create() };
      this.flows.set(name, flow);
    }
    return flow;
  }

  /** The flow to serve next; its pass advances. Ties go to the flow that joined first. */
  next(): [string, Flow<Child>] | undefined {
    let best: [string, Flow<Child>] | undefined;
    for (const entry of this.flows) if (!best || entry[1].pass < best[1].pass) best = entry;
    if (best) {
      this.virtualTime = best[1].pass;
      best[1].pass += 1;
    }
    return best;
  }
}

type UserLevel<T> = FairLevel<T[]>;

/** A queue with weighted fair share: strict priority between classes (interactive before
 *  background), then round robin by stride across callers, then across the users of each caller.
 *  One caller with 50 queued requests delays another caller's single request by at most one
 *  dispatch. Written here rather than taken from a library: the npm priority queues have no
 *  notion of flows, and this is the scheduler's whole policy in one place. */
export class FairQueue<T> {
  private readonly classes = new Map<Priority, FairLevel<UserLevel<T>>>(priorities.map((p) => [p, new FairLevel()]));
  private count = 0;
  /** Waiting items per priority class, for the admin API's queue figures. */
  private readonly perClass: Record<Priority, number> = { interactive: 0, background: 0 };

  get size(): number {
    return this.count;
  }

  sizeOf(priority: Priority): number {
    return this.perClass[priority];
  }

  push(ticket: Ticket, item: T): void {
    const callers = this.classes.get(ticket.priority)!;
    const users = callers.flow(ticket.caller, () => new FairLevel<T[]>()).child;
    users.flow(ticket.user ?? '', () => []).child.push(item);
    this.count++;
    this.perClass[ticket.priority]++;
  }

  /** The next item of the first class that has one, among `classes` (default: every class). */
  shift(classes: readonly Priority[] = priorities): T | undefined {
    for (const priority of classes) {
      const callers = this.classes.get(priority)!;
      const caller = callers.next();
      if (!caller) continue;
      const [callerName, callerFlow] = caller;
      const [userName, userFlow] = callerFlow.child.next()!;
      const item = userFlow.child.shift()!;
      // Empty flows leave; rejoining later starts afresh at the current virtual time.
      if (userFlow.child.length === 0) callerFlow.child.flows.delete(userName);
      if (callerFlow.child.flows.size === 0) callers.flows.delete(callerName);
      this.count--;
      this.perClass[priority]--;
      return item;
    }
    return undefined;
  }

  /** Takes out a waiter that gave up (its client went away). */
  remove(item: T): boolean {
    for (const [priority, callers] of this.classes) {
      for (const [callerName, callerFlow] of callers.flows) {
        for (const [userName, userFlow] of callerFlow.child.flows) {
          const index = userFlow.child.indexOf(item);
          if (index < 0) continue;
          userFlow.child.splice(index, 1);
          if (userFlow.child.length === 0) callerFlow.child.flows.delete(userName);
          if (callerFlow.child.flows.size === 0) callers.flows.delete(callerName);
          this.count--;
          this.perClass[priority]--;
          return true;
        }
      }
    }
    return false;
  }
}
