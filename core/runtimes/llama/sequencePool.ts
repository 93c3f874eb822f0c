import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';

/** Hands out the context's sequences one request at a time and queues the rest in arrival order.
 *  Sequences are kept, not disposed, between requests so a follow-up that shares a prefix with
 *  the last request on a sequence reuses its evaluated tokens. */
export class SequencePool {
  private readonly free: LlamaContextSequence[] = [];
  private readonly waiting: { resolve: (sequence: LlamaContextSequence) => void; reject: (error: Error) => void }[] = [];
  private closed = false;
  readonly size: number;

  constructor(context: LlamaContext) {
    while (context.sequencesLeft > 0) this.free.push(context.getSequence());
    this.size = this.free.length;
  }

  /** Sequences generating now. */
  get active(): number {
    return this.size - this.free.length;
  }

  /** Requests waiting for a sequence. */
  get queued(): number {
    return this.waiting.length;
  }

  acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
    if (this.closed) return Promise.reject(new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The model is being unloaded; retry the request.'));
    const sequence = this.free.pop();
    if (sequence) return Promise.resolve(sequence);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiting.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
        { once: true },
      );
    });
  }

  release(sequence: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next) next.resolve(sequence);
    else this.free.push(sequence);
  }

  /** Fails every waiter; used when the model is unloaded. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) {
      waiter.reject(new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The model was unloaded while this request waited; retry the request.'));
    }
  }
}
