import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';
import type { RuntimeMetrics } from '../../metrics/index.js';
import { FairQueue, type Priority, type Ticket } from '../scheduler/fairQueue.js';

export interface SequencePoolOptions {
  model: string;
  /** Requests that may wait for a sequence; one more is refused with a 429. */
  maxQueue: number;
  /** Sequences background work (batch lines) may hold at once; 'auto': all but one, at least one. */
  backgroundSequences?: number | 'auto';
  metrics: RuntimeMetrics;
}

interface Waiter {
  resolve(sequence: LlamaContextSequence): void;
  reject(error: Error): void;
  enqueuedAt: number;
  priority: Priority;
}

const everyClass: readonly Priority[] = ['interactive', 'background'];
const interactiveOnly: readonly Priority[] = ['interactive'];

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a[i] === b[i]) i++;
  return i;
}

/** Hands out the context's sequences. Free sequences go at once, to the one whose evaluated
 *  tokens share the longest prefix with the prompt (a chat follow-up lands where its earlier
 *  turns are, and node-llama-cpp reuses them); the rest wait in a fair queue. All sequences of
 *  the context decode together, so a request that gets one joins the batch at the next step. */
export class SequencePool {
  private readonly all: LlamaContextSequence[] = [];
  private readonly free: LlamaContextSequence[] = [];
  private readonly waiting = new FairQueue<Waiter>();
  private closed = false;
  /** Moving average of how long a request holds a sequence, for Retry-After. */
  private averageHoldMs = 1000;
  readonly size: number;
  /** The cap on background work is counted here, where sequences are handed out: batch lines
   *  beyond it wait in the queue (ready to take a sequence the moment one of theirs frees up),
   *  and the sequences above it stay free for live requests. */
  readonly backgroundLimit: number;
  private readonly heldByBackground = new Set<LlamaContextSequence>();
  /** Each sequence's place in the context: node-llama-cpp gives a new context's sequences the ids
   *  0, 1, 2, … in the order getSequence() is called. */
  private readonly idOf = new Map<LlamaContextSequence, number>();

  constructor(
    context: LlamaContext,
    private readonly options: SequencePoolOptions,
  ) {
    while (context.sequencesLeft > 0) this.all.push(context.getSequence());
    this.all.forEach((sequence, id) => this.idOf.set(sequence, id));
    this.free.push(...this.all);
    this.size = this.all.length;
    const limit = options.backgroundSequences ?? 'auto';
    this.backgroundLimit = limit === 'auto' ? Math.max(1, this.size - 1) : Math.min(limit, this.size);
    this.report();
  }

  /** Sequences generating now. */
  get active(): number {
    return this.size - this.free.length;
  }

  /** Prompt and generated tokens the sequences have evaluated so far: what prefix reuse saves shows here. */
  get evaluatedTokens(): number {
    return this.all.reduce((sum, sequence) => sum + sequence.tokenMeter.usedInputTokens, 0);
  }

  /** Requests waiting for a sequence. */
  get queued(): number {
    return this.waiting.size;
  }

  /** Requests waiting for a sequence, by priority class. */
  get queuedByPriority(): { interactive: number; background: number } {
    return { interactive: this.waiting.sizeOf('interactive'), background: this.waiting.sizeOf('background') };
  }

  async acquire(ticket: Ticket, promptTokens: readonly Token[] | undefined, signal?: AbortSignal): Promise<LlamaContextSequence> {
    if (this.closed) throw new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The model is being unloaded; retry the request.');
    signal?.throwIfAborted();
    if (this.free.length > 0 && this.mayTake(ticket.priority)) return this.take(this.bestFreeIndex(promptTokens), ticket.priority);
    if (this.waiting.size >= this.options.maxQueue) {
      this.options.metrics.queueRejections.inc({ model: this.options.model });
      const retryAfter = Math.max(1, Math.ceil((this.averageHoldMs * (this.waiting.size / this.size + 1)) / 1000));
      throw new ApiError(
        'LLMSVC_ERR_QUEUE_FULL',
        `Model '${this.options.model}' is busy: ${this.active} requests are generating and ${this.waiting.size} are waiting, the most it queues. Retry in about ${retryAfter} s.`,
        null,
        { 'retry-after': String(retryAfter) },
      );
    }
    const sequence = await new Promise<LlamaContextSequence>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, enqueuedAt: performance.now(), priority: ticket.priority };
      this.waiting.push(ticket, waiter);
      this.report();
      signal?.addEventListener(
        'abort',
        () => {
          if (!this.waiting.remove(waiter)) return;
          this.report();
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
        { once: true },
      );
    });
    return sequence;
  }

  release(sequence: LlamaContextSequence, heldMs: number): void {
    this.averageHoldMs = 0.8 * this.averageHoldMs + 0.2 * heldMs;
    this.heldByBackground.delete(sequence);
    // Live requests first; a batch line only while background work holds fewer than its limit.
    const next = this.waiting.shift(this.mayTake('background') ? everyClass : interactiveOnly);
    if (next) {
      this.options.metrics.queueWait.observe({ model: this.options.model }, (performance.now() - next.enqueuedAt) / 1000);
      if (next.priority === 'background') this.heldByBackground.add(sequence);
      next.resolve(sequence);
    } else {
      this.free.push(sequence);
    }
    this.report();
  }

  /** Fails every waiter; used when the model is unloaded. */
  close(): void {
    this.closed = true;
    for (let waiter = this.waiting.shift(); waiter; waiter = this.waiting.shift()) {
      waiter.reject(new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The model was unloaded while this request waited; retry the request.'));
    }
    this.report();
  }

  /** The free sequence for a prompt: the one that already holds most of it, when that is worth
   *  something (a chat template's first few tokens are not); otherwise, while others generate, the
   *  one nearest to them by sequence id (see nearestToGenerating); otherwise the one released
   *  longest ago, so that recent conversations stay cached for their follow-ups. */
  private bestFreeIndex(promptTokens: readonly Token[] | undefined): number {
    if (promptTokens) {
      let best = 0;
      let bestLength = 0;
      this.free.forEach((sequence, index) => {
        const length = commonPrefixLength(sequence.contextTokens, promptTokens);
        if (length > bestLength) [best, bestLength] = [index, length];
      });
      if (bestLength >= Math.min(32, promptTokens.length / 2)) return best;
    }
    return this.nearestToGenerating();
  }

  /** The free sequence whose id is closest to one that is generating (the least recently used
   *  among equals; with none generating, the least recently used). llama.cpp splits a decode step
   *  into micro-batches of consecutive sequence ids, and sequences next to each other hold
   *  neighbouring KV cells: a step over ids 0–7 ran in ~75 ms on the 135M model where one over
   *  scattered ids took ~101 ms. */
  private nearestToGenerating(): number {
    const generating = this.all.filter((sequence) => !this.free.includes(sequence)).map((sequence) => this.idOf.get(sequence)!);
    if (generating.length === 0) return 0;
    let best = 0;
    let bestDistance = Infinity;
    this.free.forEach((sequence, index) => {
      const id = this.idOf.get(sequence)!;
      const distance = Math.min(...generating.map((other) => Math.abs(other - id)));
      if (distance < bestDistance) [best, bestDistance] = [index, distance];
    });
    return best;
  }

  private mayTake(priority: Priority): boolean {
    return priority !== 'background' || this.heldByBackground.size < this.backgroundLimit;
  }

  private take(index: number, priority: Priority): LlamaContextSequence {
    const [sequence] = this.free.splice(index, 1);
    if (priority === 'background') this.heldByBackground.add(sequence!);
    this.options.metrics.queueWait.observe({ model: this.options.model }, 0);
    this.report();
    return sequence!;
  }

  private report(): void {
    const labels = { model: this.options.model };
    this.options.metrics.queueDepth.set(labels, this.waiting.size);
    this.options.metrics.activeSequences.set(labels, this.closed ? 0 : this.active);
  }
}
