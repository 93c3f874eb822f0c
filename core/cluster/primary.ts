import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from 'pino';
import { isApiError } from '../errors/index.js';
import { AuthThrottle, systemClock, type Clock } from '../auth/index.js';
import { LimiterHost } from './limiterHost.js';
import { isOurs, serializeApiError, workerIndexEnv, type Reply, type WorkerNotice, type WorkerRequest } from './protocol.js';


export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** Failed authentications an address may make a minute, counted over every worker (config auth_failure_limit). */
  authFailureLimit: number;
  clock?: Clock;
  /** How long a stopping worker may take before it is killed. */
  stopGraceMs?: number;
  /** A replacement for a worker that crashed starts after this (doubling while they keep crashing). */
  restartDelayMs?: number;
}

interface Slot {
  index: number;
  worker: Worker;
  listening: boolean;
  startedAt: number;
}

/** The primary of `llmsvc serve --workers N`: forks N HTTP workers that share one port (node's
 *  cluster), and is the box's owner process: it holds the rate limits of every worker (LimiterHost)
 *  and the one count of failed authentications per address (AuthThrottle),
 *  gathers their metrics and live stats, restarts a worker that crashes, and stops them all on
 *  SIGTERM/SIGINT. It serves no HTTP itself and opens no model. */
export class ClusterPrimary {
  private readonly limiter: LimiterHost;
  private readonly authThrottle: AuthThrottle;
  private readonly slots = new Map<number, Slot>();
  private readonly aggregator = new AggregatorRegistry();
  private stopping: Promise<number> | undefined;
  private crashes = 0;
  private address: string | undefined;
  private readonly listening: Promise<string>;
  private resolveListening!: (url: string) => void;
  private rejectListening!: (error: Error) => void;
  private nextRequestId = 1;
  private readonly pendingLive = new Map<number, { remaining: number; parts: unknown[]; done: (parts: unknown[]) => void }>();

  constructor(private readonly options: PrimaryOptions) {
    this.limiter = new LimiterHost(options.clock ?? systemClock);
    this.authThrottle = new AuthThrottle(options.authFailureLimit, options.clock ?? systemClock);
    this.listening = new Promise((resolve, reject) => {
      this.resolveListening = resolve;
      this.rejectListening = reject;
    });
    cluster.on('message', (worker, message: unknown) => this.receive(worker, message));
  }

  /** Forks the workers; resolves with the URL once every one of them listens, rejects when one
   *  exits before it did (its own error is on stderr: the config, the port). */
  start(): Promise<string> {
    for (let index = 0; index < this.options.workers; index++) this.fork(index);
    return this.listening;
  }

  private fork(index: number): void {
    const worker = cluster.fork({ [workerIndexEnv]: String(index) });
    const slot: Slot = { index, worker, listening: false, startedAt: Date.now() };
    this.slots.set(index, slot);
    worker.on('listening', (address) => {
      slot.listening = true;
      const host = address.address && address.address.includes(':') ? `[${address.address}]` : (address.address ?? '127.0.0.1');
      this.address ??= `http://${host}:${address.port}`;
      this.options.logger.info({ worker: index, pid: worker.process.pid }, 'HTTP worker listening');
      if ([...this.slots.values()].every((each) => each.listening)) this.resolveListening(this.address);
    });
    worker.on('exit', (code, signal) => this.exited(slot, code, signal));
  }

  private exited(slot: Slot, code: number | null, signal: string | null): void {
    const { worker, index } = slot;
    const gone = this.limiter.workerGone(worker.id);
    if (this.slots.get(index) === slot) this.slots.delete(index);
    if (this.stopping) return;
    if (this.address === undefined) {
      // Never got to serve: the same config would fail again. Stop the rest and report.
      this.rejectListening(new Error(`HTTP worker ${index} exited (${signal ?? `code ${code}`}) before it listened; see its error above.`));
      return;
    }
    // A worker that served a while before it crashed resets the back-off.
    this.crashes = Date.now() - slot.startedAt > 60_000 ? 1 : this.crashes + 1;
    const delay = Math.min(30_000, (this.options.restartDelayMs ?? 250) * 2 ** Math.min(this.crashes - 1, 7));
    this.options.logger.error(
      { worker: index, pid: worker.process.pid, code, signal, freed_slots: gone.slots, freed_reservations: gone.reservations, restart_in_ms: delay },
      'HTTP worker exited unexpectedly; starting a new one',
    );
    setTimeout(() => {
      if (!this.stopping) this.fork(index);
    }, delay).unref();
  }

  private receive(worker: Worker, message: unknown): void {
    if (!isOurs(message)) return;
    const batch = (message as { batch?: unknown[] }).batch;
    if (!batch) return this.liveAnswer(message as Reply); // a worker's answer to gatherLive
    // The answers of one batch go back as one message too (see PrimaryChannel.flush).
    const replies: Omit<Reply, 'llmsvc'>[] = [];
    for (const each of batch) this.handle(worker, each as WorkerRequest | WorkerNotice, (reply) => replies.push(reply));
    if (replies.length > 0 && worker.isConnected()) worker.send({ llmsvc: true, batch: replies });
  }

  /** One message of a worker's batch: limiter steps answer at once (`answerNow`); metrics and
   *  live stats answer later, in a message of their own. */
  private handle(worker: Worker, message: WorkerRequest | WorkerNotice, answerNow: (reply: Omit<Reply, 'llmsvc'>) => void): void {
    if (message.op === 'release') return this.limiter.release(worker.id, message.slot);
    if (message.op === 'settle') return this.limiter.settle(worker.id, message.reservation, message.tokens);
    const request = message as WorkerRequest & { id: number };
    const failure = (error: unknown) => ({
      id: request.id,
      ...(isApiError(error) ? { apiError: serializeApiError(error) } : { failure: String((error as Error)?.message ?? error) }),
    });
    const answerLater = (reply: Omit<Reply, 'llmsvc'>) => {
      if (worker.isConnected()) worker.send({ llmsvc: true, ...reply });
    };
    try {
      switch (request.op) {
        case 'admit':
          return answerNow({ id: request.id, value: this.limiter.admit(worker.id, request.key, request.reserveTokens, request.usage) });
        case 'reserve':
          return answerNow({ id: request.id, value: this.limiter.reserve(worker.id, request.key, request.tokens, request.usage) });
        case 'authFailure':
          return answerNow({ id: request.id, value: this.authThrottle.recordFailure(request.address) });
        case 'metrics':
          return void this.aggregator.clusterMetrics().then((text) => answerLater({ id: request.id, value: text }), (error) => answerLater(failure(error)));
        case 'live':
          return void this.gatherLive().then((parts) => answerLater({ id: request.id, value: parts }), (error) => answerLater(failure(error)));
      }
    } catch (error) {
      answerNow(failure(error));
    }
  }

  /** Every listening worker's live windows (LiveStats.export). */
  private gatherLive(): Promise<unknown[]> {
    const workers = [...this.slots.values()].filter((slot) => slot.listening && slot.worker.isConnected()).map((slot) => slot.worker);
    if (workers.length === 0) return Promise.resolve([]);
    const id = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(), 2000);
      const finish = () => {
        clearTimeout(timer);
        const pending = this.pendingLive.get(id);
        this.pendingLive.delete(id);
        resolve(pending?.parts ?? []);
      };
      this.pendingLive.set(id, { remaining: workers.length, parts: [], done: finish });
      for (const worker of workers) worker.send({ llmsvc: true, id, op: 'live' });
    });
  }

  private liveAnswer(reply: Reply): void {
    const pending = this.pendingLive.get(reply.id);
    if (!pending) return;
    if (reply.value !== undefined) pending.parts.push(reply.value);
    if (--pending.remaining === 0) pending.done(pending.parts);
  }

  /** Asks every worker to stop (they finish their requests), kills those still running after
   *  the grace period; resolves with the exit code for the primary: 0 when all stopped cleanly. */
  stop(): Promise<number> {
    this.stopping ??= (async () => {
      const grace = this.options.stopGraceMs ?? 15_000;
      const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
      const exits = workers.map(
        (worker) =>
          new Promise<boolean>((resolve) => {
            if (worker.isDead()) return resolve(worker.process.exitCode === 0);
            const timer = setTimeout(() => {
              this.options.logger.warn({ pid: worker.process.pid }, 'HTTP worker did not stop in time; killing it');
              worker.process.kill('SIGKILL');
            }, grace);
            worker.once('exit', (code) => {
              clearTimeout(timer);
              resolve(code === 0);
            });
            if (worker.isConnected()) worker.send({ llmsvc: true, op: 'stop' });
            else worker.process.kill('SIGTERM');
          }),
      );
      const clean = await Promise.all(exits);
      return clean.every(Boolean) ? 0 : 1;
    })();
    return this.stopping;
  }
}
