import type { Clock } from './clock.js';

const windowMs = 60_000;

/** Slows down key guessing: after `limit` failed authentications from one address within a
 *  minute, that address's failures are 429s with Retry-After until the minute has passed. */
export class AuthThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly clock: Clock,
  ) {}

  /** Milliseconds the address must wait, or 0. */
  waitMs(address: string): number {
    const recent = this.recent(address);
    return recent.length > this.limit ? recent[0]! + windowMs - this.clock() : 0;
  }

  recordFailure(address: string): void {
    const recent = this.recent(address);
    recent.push(this.clock());
    this.failures.set(address, recent);
  }

  private recent(address: string): number[] {
    const now = this.clock();
    const recent = (this.failures.get(address) ?? []).filter((at) => at > now - windowMs);
    if (recent.length === 0) this.failures.delete(address);
    return recent;
  }
}
