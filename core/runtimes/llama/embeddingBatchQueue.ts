// Collects the embedding inputs that arrive for one model while its previous group is evaluated,
// so that concurrent requests are evaluated together (see multiSequenceEmbedding.ts) instead of
// one after another. Pure logic: what evaluating a group means is passed in.

export interface EmbeddingBatchOptions {
  /** Most inputs in one group. */
  maxInputs: number;
  /** Most tokens in one group; an input longer than this forms a group of its own. */
  maxTokens: number;
  /** How long the first input of a group waits for others to join it. 0: a group is whatever
   *  was queued when the previous one ended (inputs queued in the same turn of the event loop
   *  always go together). */
  windowMs: number;
}

interface Waiting<Input, Output> {
  input: Input;
  tokens: number;
  queuedAt: number;
  resolve(output: Output): void;
  reject(error: unknown): void;
  /** Removes the abort listener once the input has left the queue. */
  detach(): void;
}

/** Evaluates a group; returns one output per input, in order. */
export type EvaluateGroup<Input, Output> = (inputs: Input[]) => Promise<Output[]>;

export class EmbeddingBatchQueue<Input, Output> {
  private readonly waiting: Waiting<Input, Output>[] = [];
  private running = false;
  private closedWith: Error | undefined;

  constructor(
    private readonly options: EmbeddingBatchOptions,
    private readonly evaluate: EvaluateGroup<Input, Output>,
    /** Told the size of each group as it starts (the metrics' histogram). */
    private readonly onGroup: (size: number) => void = () => {},
  ) {}

  /** Inputs waiting for a group now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Queues one input of `tokens` tokens; resolves with its output once its group is evaluated.
   *  An input whose `signal` aborts while it still waits leaves the queue. */
  submit(input: Input, tokens: number, signal?: AbortSignal): Promise<Output> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Output>((resolve, reject) => {
      const entry: Waiting<Input, Output> = { input, tokens, queuedAt: performance.now(), resolve, reject, detach: () => {} };
      if (signal) {
        const onAbort = () => {
          const index = this.waiting.indexOf(entry);
          if (index < 0) return;
          this.waiting.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        entry.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.waiting.push(entry);
      if (!this.running) void this.runGroups();
    });
  }

  /** Refuses new inputs and fails the waiting ones with `error` (the group running finishes). */
  close(error: Error): void {
    this.closedWith = error;
    for (const entry of this.waiting.splice(0)) {
      entry.detach();
      entry.reject(error);
    }
  }

  private async runGroups(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        await this.waitForOthers();
        const group = this.takeGroup();
        if (group.length === 0) continue;
        this.onGroup(group.length);
        try {
          const outputs = await this.evaluate(group.map((entry) => entry.input));
          if (outputs.length !== group.length) throw new Error(`An embedding group of ${group.length} inputs gave ${outputs.length} outputs.`);
          group.forEach((entry, index) => entry.resolve(outputs[index]!));
        } catch (error) {
          for (const entry of group) entry.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Lets the inputs of the same event-loop turn join, and with a window, waits until the first
   *  input has waited `windowMs` (or the group is full). */
  private async waitForOthers(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const first = this.waiting[0];
    if (!first || this.options.windowMs <= 0 || this.waiting.length >= this.options.maxInputs) return;
    const left = first.queuedAt + this.options.windowMs - performance.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }

  /** The longest run from the head of the queue within both limits (at least one input: one
   *  longer than maxTokens goes alone). In arrival order, so no input is overtaken. */
  private takeGroup(): Waiting<Input, Output>[] {
    let count = 0;
    let tokens = 0;
    for (const entry of this.waiting) {
      if (count >= this.options.maxInputs) break;
      if (count > 0 && tokens + entry.tokens > this.options.maxTokens) break;
      count++;
      tokens += entry.tokens;
    }
    const group = this.waiting.splice(0, count);
    for (const entry of group) entry.detach();
    return group;
  }
}
