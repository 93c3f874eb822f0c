import { AuthThrottle, type Clock, type FailureThrottle } from '../auth/index.js';
import type { PrimaryChannel } from './channel.js';

/** The failed-auth throttle of one HTTP worker of `llmsvc serve --workers N` without Redis: each
 *  failure is a message to the primary, which keeps the box's one count per address, so an
 *  address gets `auth_failure_limit` failures a minute from the whole box, not from each worker.
 *  The message leaves in the channel's batch with the limiter's steps of the same turn. */
export class IpcAuthThrottle implements FailureThrottle {
  /** Counts while the primary cannot answer (it is gone, and this worker is stopping): the
   *  failure is refused anyway; guessing stays bounded in this process (see RedisAuthThrottle). */
  private readonly fallback: AuthThrottle;

  constructor(
    private readonly channel: PrimaryChannel,
    limit: number,
    clock: Clock,
  ) {
    this.fallback = new AuthThrottle(limit, clock);
  }

  recordFailure(address: string): Promise<number> {
    return this.channel.ask<number>({ op: 'authFailure', address }).catch(() => this.fallback.recordFailure(address));
  }

  async dispose(): Promise<void> {}
}
