export interface MicroBatcherOptions {
  /** How long the first item of a batch waits for others to join it. */
  windowMs: number;
  maxBatchSize: number;
}

interface Waiting<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/** Merges items submitted close together into one call of `runBatch`. A batch starts `windowMs`
 *  after its first item arrived, or at once when it is full; one batch runs at a time, and items
 *  that arrive while it runs form the next batch, which starts as soon as it ends (they have
 *  waited long enough). `runBatch` returns one result per item, in order. */
export class MicroBatcher<Item, Result> {
  private readonly queue: Waiting<Item, Result>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closedWith: Error | undefined;

  constructor(
    private readonly runBatch: (items: Item[]) => Promise<Result[]>,
    private readonly options: MicroBatcherOptions,
  ) {
    if (!(options.maxBatchSize >= 1)) throw new Error(`maxBatchSize must be at least 1, got ${options.maxBatchSize}`);
  }

  submit(item: Item): Promise<Result> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running) return; // the next batch starts when this one ends
      if (this.queue.length >= this.options.maxBatchSize) this.startBatch();
      else this.timer ??= setTimeout(() => this.startBatch(), this.options.windowMs);
    });
  }

  /** Items waiting for a batch (not those running). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Fails the waiting items with `reason` and waits for the running batch to end. */
  async close(reason: Error): Promise<void> {
    this.closedWith = reason;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const waiting of this.queue.splice(0)) waiting.reject(reason);
    await this.running;
  }

  private startBatch(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.maxBatchSize);
    this.running = this.run(batch).finally(() => {
      this.running = undefined;
      // Let messages that arrived during the run join before the next batch is cut.
      if (this.queue.length > 0 && !this.closedWith) setImmediate(() => this.startBatch());
    });
  }

  private async run(batch: Waiting<Item, Result>[]): Promise<void> {
    try {
      const results = await this.runBatch(batch.map((waiting) => waiting.item));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} items gave ${results.length} results`);
      batch.forEach((waiting, i) => waiting.resolve(results[i]!));
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }
}
