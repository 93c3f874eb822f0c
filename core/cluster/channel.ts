import { deserializeApiError, isOurs, type Envelope, type PrimaryRequest, type Reply, type WorkerNotice, type WorkerRequest } from './protocol.js';

/** A worker's end of the IPC channel to the primary: questions with answers (matched by id),
 *  notices without, and the primary's own questions (answered by `onRequest`). */
export class PrimaryChannel {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  private nextId = 1;
  private onRequest: ((request: PrimaryRequest) => unknown) | undefined;
  private onStop: (() => void) | undefined;
  private outbox: (WorkerRequest | WorkerNotice)[] = [];

  constructor(private readonly process: NodeJS.Process = globalThis.process) {
    if (!process.send) throw new Error('PrimaryChannel needs an IPC channel: run it in a cluster worker.');
    process.on('message', (message: unknown) => this.receive(message));
    // The primary is gone: nothing will answer the questions in flight.
    process.on('disconnect', () => {
      for (const { reject } of this.pending.values()) reject(new Error('The llmsvc primary process is gone.'));
      this.pending.clear();
    });
  }

  /** Answers the primary's questions (one handler). */
  answer(handler: (request: PrimaryRequest) => unknown): void {
    this.onRequest = handler;
  }

  /** What to do when the primary says stop (once the box shuts down). */
  whenStopped(handler: () => void): void {
    this.onStop = handler;
  }

  ask<T>(request: WorkerRequest): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.enqueue({ ...request, id });
    });
  }

  notify(notice: WorkerNotice): void {
    this.enqueue(notice);
  }

  /** Messages of one event-loop turn leave together, as one IPC message, at its end: under load
   *  a turn handles many requests, and one write and one parse on each side is much cheaper
   *  than one per admission, release and settlement. */
  private enqueue(message: WorkerRequest | WorkerNotice | (WorkerRequest & { id: number })): void {
    this.outbox.push(message);
    if (this.outbox.length === 1) setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    const batch = this.outbox;
    this.outbox = [];
    const failed = (error: Error | null) => {
      if (!error) return;
      // A primary that is gone frees every slot and reservation anyway; questions fail.
      for (const message of batch) {
        const id = (message as { id?: number }).id;
        if (id === undefined) continue;
        this.pending.get(id)?.reject(error);
        this.pending.delete(id);
      }
    };
    if (!this.process.connected) return failed(new Error('The llmsvc primary process is gone.'));
    const envelope: Envelope<{ batch: typeof batch }> = { llmsvc: true, batch };
    this.process.send!(envelope, undefined, undefined, failed);
  };

  private receive(message: unknown): void {
    if (!isOurs(message)) return;
    const replies = (message as { batch?: unknown[] }).batch;
    if (replies) {
      for (const reply of replies) this.receive({ ...(reply as object), llmsvc: true });
      return;
    }
    const reply = message as Reply & { op?: string };
    if (reply.op === 'stop') return void this.onStop?.();
    if (reply.op !== undefined) return void this.answerPrimary(reply as unknown as Envelope<PrimaryRequest> & { id: number });
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (reply.apiError) waiting.reject(deserializeApiError(reply.apiError));
    else if (reply.failure !== undefined) waiting.reject(new Error(reply.failure));
    else waiting.resolve(reply.value);
  }

  private answerPrimary(request: Envelope<PrimaryRequest> & { id: number }): void {
    Promise.resolve()
      .then(() => this.onRequest?.(request))
      .then(
        (value) => this.process.connected && this.process.send!({ llmsvc: true, id: request.id, value }),
        (error: unknown) => this.process.connected && this.process.send!({ llmsvc: true, id: request.id, failure: String((error as Error).message) }),
      );
  }
}
