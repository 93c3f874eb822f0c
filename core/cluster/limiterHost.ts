import { isApiError } from '../errors/index.js';
import { Limiter, type Clock, type QuotaUsage, type TokenReservation } from '../auth/index.js';
import type { ApiKeyRecord } from '../store/index.js';
import { serializeApiError, type AdmitReply, type KeyLimits, type ReserveReply, type SerializedApiError } from './protocol.js';

/** Read only when a key has a day or month quota, and then the worker sent it. */
const noUsage = (): QuotaUsage => {
  throw new Error('A quota check needs the usage the worker reads; it sent none.');
};

interface WorkerHoldings {
  slots: Map<number, () => void>;
  reservations: Map<number, { reservation: TokenReservation; tokens: number }>;
}

/** The rate limits of every worker of one box, held in the primary: the same Limiter as one
 *  process uses (so the same windows, 429s and headers), each step run on the primary's one
 *  thread in the order the workers' messages arrive, so no two workers can both take the last
 *  unit. Slots and reservations are numbered per worker; those of a worker that exits (crash or
 *  stop) are freed at once. */
export class LimiterHost {
  private readonly limiter: Limiter;
  private readonly holdings = new Map<number, WorkerHoldings>();
  private nextId = 1;

  constructor(clock: Clock) {
    this.limiter = new Limiter(clock);
  }

  private of(worker: number): WorkerHoldings {
    let holdings = this.holdings.get(worker);
    if (!holdings) {
      holdings = { slots: new Map(), reservations: new Map() };
      this.holdings.set(worker, holdings);
    }
    return holdings;
  }

  private hold(worker: number, reservation: TokenReservation, tokens: number): number {
    const id = this.nextId++;
    this.of(worker).reservations.set(id, { reservation, tokens });
    return id;
  }

  /** Admits (or throws the ApiError of the 429), as MemoryRateLimiter.admit. */
  admit(worker: number, key: KeyLimits, reserveTokens: number | undefined, usage: QuotaUsage | undefined): AdmitReply {
    const record = key as ApiKeyRecord; // the Limiter reads the id and the limits only
    const release = this.limiter.admit(record);
    const slot = this.nextId++;
    this.of(worker).slots.set(slot, release);
    let reservation: number | undefined;
    let refusal: SerializedApiError | undefined;
    if (reserveTokens !== undefined) {
      try {
        reservation = this.hold(worker, this.limiter.reserve(record, reserveTokens, usage ? () => usage : noUsage), reserveTokens);
      } catch (error) {
        if (!isApiError(error)) throw error;
        refusal = serializeApiError(error);
      }
    }
    return { slot, headers: this.limiter.headers(record), ...(reservation !== undefined && { reservation }), ...(refusal && { refusal }) };
  }

  reserve(worker: number, key: KeyLimits, tokens: number, usage: QuotaUsage | undefined): ReserveReply {
    const reservation = this.limiter.reserve(key as ApiKeyRecord, tokens, usage ? () => usage : noUsage);
    return { reservation: this.hold(worker, reservation, tokens) };
  }

  release(worker: number, slot: number): void {
    const holdings = this.holdings.get(worker);
    holdings?.slots.get(slot)?.();
    holdings?.slots.delete(slot);
  }

  settle(worker: number, id: number, tokens: number): void {
    const holdings = this.holdings.get(worker);
    holdings?.reservations.get(id)?.reservation.settle(tokens);
    holdings?.reservations.delete(id);
  }

  /** A worker is gone: its requests are gone with it. Its reservations settle to what they
   *  reserved (the upstream may have done the work; the window stays on the safe side). */
  workerGone(worker: number): { slots: number; reservations: number } {
    const holdings = this.holdings.get(worker);
    if (!holdings) return { slots: 0, reservations: 0 };
    this.holdings.delete(worker);
    for (const release of holdings.slots.values()) release();
    for (const { reservation, tokens } of holdings.reservations.values()) reservation.settle(tokens);
    return { slots: holdings.slots.size, reservations: holdings.reservations.size };
  }
}
