import { hasNoLimits, hasTokenQuota, unlimitedAdmission, type Admitted, type QuotaUsage, type RateLimiter, type TokenReservation } from '../auth/index.js';
import type { ApiKeyRecord } from '../store/index.js';
import type { PrimaryChannel } from './channel.js';
import { deserializeApiError, keyLimits, type AdmitReply, type ReserveReply } from './protocol.js';

const noop = () => {};

export interface IpcRateLimiterOptions {
  /** Writes this worker's finished requests to the usage table now (the ledger's flush). Called
   *  before a reservation of a key with a quota settles, so that when the primary stops counting
   *  the reservation, the usage table another worker reads already counts what it used. */
  flushUsage: () => void;
}

/** The limiter of one HTTP worker of `llmsvc serve --workers N` without Redis: every step is a
 *  message to the primary, which runs the one Limiter of the box (see LimiterHost), so limits
 *  are as exact across the workers as in one process, with the same 429s and headers. A day or
 *  month quota reads the usage table here (the worker's own database connection) and sends the
 *  figures with the step, as the Redis limiter does. */
export class IpcRateLimiter implements RateLimiter {
  constructor(
    private readonly channel: PrimaryChannel,
    private readonly options: IpcRateLimiterOptions,
  ) {}

  admit(key: ApiKeyRecord, reserveTokens: number | undefined, quota: () => QuotaUsage): Admitted | Promise<Admitted> {
    // A key with no limit at all needs no shared state: its requests skip the primary.
    if (hasNoLimits(key)) return unlimitedAdmission(reserveTokens);
    const usage = reserveTokens !== undefined && hasTokenQuota(key) ? quota() : undefined;
    return this.channel
      .ask<AdmitReply>({ op: 'admit', key: keyLimits(key), ...(reserveTokens !== undefined && { reserveTokens }), ...(usage && { usage }) })
      .then((reply) => {
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          this.channel.notify({ op: 'release', slot: reply.slot });
        };
        return {
          release,
          headers: reply.headers,
          ...(reply.reservation !== undefined && { reservation: this.reservation(key, reply.reservation) }),
          ...(reply.refusal && { refusal: deserializeApiError(reply.refusal) }),
        };
      });
  }

  reserve(key: ApiKeyRecord, tokens: number, quota: () => QuotaUsage): TokenReservation | Promise<TokenReservation> {
    if (hasNoLimits(key)) return { settle: noop };
    const usage = hasTokenQuota(key) ? quota() : undefined;
    return this.channel
      .ask<ReserveReply>({ op: 'reserve', key: keyLimits(key), tokens, ...(usage && { usage }) })
      .then((reply) => this.reservation(key, reply.reservation));
  }

  private reservation(key: ApiKeyRecord, id: number): TokenReservation {
    let settled = false;
    return {
      settle: (tokens) => {
        if (settled) return;
        settled = true;
        if (hasTokenQuota(key)) this.options.flushUsage();
        this.channel.notify({ op: 'settle', reservation: id, tokens });
      },
    };
  }

  async dispose(): Promise<void> {}
}
