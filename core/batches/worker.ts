import type { BatchApi, BatchLineRecord, BatchRecord, Store } from '../store/index.js';
import { finalizeBatch } from './finalize.js';
import type { BatchMetrics } from './metrics.js';
import readline from 'node:readline';
import type { FileContents } from '../storage/index.js';
import { InputValidator } from './validate.js';
import { wakeableSleep } from '../jobs/wakeableSleep.js';
import { newOwnerId, ownerProcessGone } from '../jobs/owner.js';

/** One request of a batch, as the worker hands it to the server. */
export interface LineRequest {
  api: BatchApi;
  keyId: string | null;
  endpoint: string;
  /** The JSON request body. */
  body: string;
}

export interface LineResponse {
  statusCode: number;
  /** The parsed JSON body (a response, or an error body in the API's shape). */
  body: unknown;
  requestId: string | null;
  /** From Retry-After, on a 429. */
  retryAfterMs?: number;
}

/** Runs one line exactly as a live request of the key would run (the server injects it). */
export type LineExecutor = (request: LineRequest) => Promise<LineResponse>;

export interface BatchWorkerOptions {
  store: Store;
  /** Input files are read from, and output files written to, the blob store. */
  contents: FileContents;
  execute: LineExecutor;
  /** Unix ms; injected so tests can pass a batch's expiry. */
  clock: () => number;
  /** Lines of one model sent at once (default 16). How many of them hold one of a local model's
   *  sequences is capped where sequences are handed out (batch_max_sequences_per_model, in the
   *  runtime's SequencePool); the others wait in its queue at background priority, so a freed
   *  sequence passes to the next line at once instead of idling until the worker sends one. */
  linesInFlightPerModel?: number;
  maxLines: number;
  metrics?: BatchMetrics;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  pollMs?: number;
  /** How long a claimed line stays this worker's without a renewal (default 30 s): renewed every
   *  third of it while the line runs; a node that dies frees its lines after it. */
  leaseMs?: number;
}

const defaultLinesInFlightPerModel = 16;
const defaultLeaseMs = 30_000;

/** A key out of quota (or rate-limited) pauses its batch this long when the 429 gives no Retry-After. */
const defaultPauseMs = 5_000;

/** Runs batches: validates input files, sends pending lines to the server at background
 *  priority (at most `linesInFlightPerModel` lines of a model at once, across all batches),
 *  records each line's result, expires and finalizes. The queue is the batch_lines table: a line
 *  is pending until its result is written (one statement), so after a crash the lines that were
 *  running are simply pending again and run once more, and no line is ever recorded twice.
 *  Several workers (one per node, on one PostgreSQL) share the queue: a worker runs only the lines
 *  it has claimed (a lease, renewed while they run), so each line is sent once; a node that dies
 *  loses its leases when they run out, or at once to a worker on its host that sees it gone. */
export class BatchWorker {
  /** Who this worker's leases name (host:pid:token). */
  readonly owner = newOwnerId();
  private readonly inFlight = new Map<string, Set<number>>();
  private readonly inFlightByModel = new Map<string, number>();
  private readonly pausedUntil = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  /** Batches being validated or finalized now (async work on the blob store). */
  private readonly busy = new Set<string>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private renewTimer: NodeJS.Timeout | undefined;
  /** When (clock) the batches' lease holders were last checked for dead processes of this host. */
  private ownersCheckedAt = -Infinity;

  constructor(private readonly options: BatchWorkerOptions) {
    this.pollMs = options.pollMs ?? 250;
    this.leaseMs = options.leaseMs ?? defaultLeaseMs;
  }

  start(): void {
    if (this.loop) return;
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(1, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    this.loop = this.run();
  }

  /** Something changed (a batch created or cancelled, a line done): look now. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops starting lines and waits for the running ones; a line cut off by shutdown stays pending. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.running]);
    clearInterval(this.renewTimer);
  }

  /** Lines of this batch running now. */
  runningLines(batchId: string): number {
    return this.inFlight.get(batchId)?.size ?? 0;
  }

  private runningLineNumbers(batchId: string): number[] {
    return [...(this.inFlight.get(batchId) ?? [])];
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.tick();
      } catch (error) {
        this.options.log?.error({ err: error }, 'batch worker error');
      }
      const sleep = wakeableSleep(this.pollMs);
      this.wakeUp = sleep.wake;
      await sleep.done;
    }
  }

  /** One pass over the batches with work left. Passes do not overlap (the loop awaits each). */
  async tick(): Promise<void> {
    const { store, clock } = this.options;
    const now = clock();
    const checkOwners = now - this.ownersCheckedAt >= this.leaseMs / 3;
    if (checkOwners) this.ownersCheckedAt = now;
    const startable: { batch: BatchRecord; lines: BatchLineRecord[] }[] = [];
    try {
      for (const batch of await store.batches.active()) {
        if (this.stopping) break;
        if (this.busy.has(batch.id)) continue;
        if (checkOwners && (batch.status === 'in_progress' || batch.status === 'cancelling')) await this.releaseDeadOwners(batch.id, now);
        switch (batch.status) {
          case 'validating':
            this.validate(batch, now);
            break;
          case 'finalizing':
            this.finalize(batch, 'completed');
            break;
          case 'cancelling':
            await store.batches.closePending(batch.id, 'canceled', now, this.runningLineNumbers(batch.id));
            await this.finalizeWhenClosed(batch, 'cancelled');
            break;
          case 'in_progress': {
            const lines = await this.advance(batch, now);
            if (lines.length > 0) startable.push({ batch, lines });
            break;
          }
        }
      }
    } finally {
      // Claimed lines that do not start now (no room left for their model, or stopping) go back
      // at once rather than wait out their lease; after an error, the ones claimed so far start.
      const unstarted = this.stopping ? startable : this.startRoundRobin(startable);
      await this.release(unstarted);
    }
    await this.options.metrics?.observe(store);
  }

  /** Releases the leases that dead processes of this host hold on the batch's lines (a server
   *  killed and restarted): they are claimed at once instead of after the lease. */
  private async releaseDeadOwners(batchId: string, now: number): Promise<void> {
    const { store } = this.options;
    for (const owner of await store.batches.leaseOwners(batchId, now)) {
      if (owner !== this.owner && ownerProcessGone(owner)) await store.batches.releaseLines(batchId, owner);
    }
  }

  /** Gives back the leases of claimed lines that were not started. */
  private async release(queues: readonly { batch: BatchRecord; lines: readonly BatchLineRecord[] }[]): Promise<void> {
    for (const { batch, lines } of queues) {
      if (lines.length > 0) await this.options.store.batches.releaseLines(batch.id, this.owner, lines.map((line) => line.line));
    }
  }

  /** Keeps the leases of the lines running here alive (a timer, every third of the lease). */
  private async renewLeases(): Promise<void> {
    const { store, clock } = this.options;
    const until = clock() + this.leaseMs;
    for (const [batchId, lines] of this.inFlight) {
      await store.batches.renewLeases(batchId, this.owner, [...lines], until).catch((error: unknown) => this.options.log?.warn({ err: error, batch: batchId }, 'batch line leases not renewed'));
    }
  }

  /** Finalizes a batch once no line of it is pending on any node: lines running elsewhere (under
   *  a live lease) end it there, or their lease runs out and they are closed here. */
  private async finalizeWhenClosed(batch: BatchRecord, status: 'completed' | 'cancelled' | 'expired'): Promise<void> {
    if (this.runningLines(batch.id) > 0) return;
    if ((await this.options.store.batches.counts(batch.id)).pending > 0) return;
    this.finalize(batch, status);
  }

  private validate(batch: BatchRecord, now: number): void {
    this.inBackground(batch.id, async () => {
      const { store, contents } = this.options;
      const seconds = Math.floor(now / 1000);
      // Lines of a validation a crash interrupted, or of one running on another node now, are
      // left in place: the same file gives the same lines, and inserting one again does nothing.
      const stream = batch.inputFileId === null ? undefined : await contents.stream(batch.inputFileId);
      if (!stream) {
        const errors = [{ code: 'file_not_found', line: null, message: `The input file ${batch.inputFileId} was deleted before the batch started.`, param: 'input_file_id' }];
        await store.batches.update(batch.id, { status: 'failed', errors, failedAt: seconds }, now, [], 'validating');
        return;
      }
      // Read and inserted a chunk at a time while the batch is still validating: the file is never
      // held whole. Nothing runs before the status turns in_progress, with the last chunk.
      const validator = new InputValidator(batch.endpoint, this.options.maxLines);
      let chunk = [];
      for await (const text of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
        const line = validator.add(text);
        if (line && !validator.failed) chunk.push(line);
        if (chunk.length >= 500) {
          if (!validator.failed) await store.batches.insertLines(batch.id, chunk);
          chunk = [];
        }
      }
      const errors = validator.finish();
      if (errors.length > 0) {
        await store.batches.update(batch.id, { status: 'failed', errors, failedAt: seconds }, now, [], 'validating');
        // Whoever failed it: this validation's chunks may have come after the other's delete.
        if ((await store.batches.find(batch.id))?.status === 'failed') await store.batches.deleteLines(batch.id);
      } else {
        // Unless cancelled meanwhile: then the lines inserted so far are cancelled with the batch.
        await store.batches.update(batch.id, { status: 'in_progress', inProgressAt: seconds }, now, chunk, 'validating');
      }
    });
  }

  /** Async work on one batch (validation, finalization), one at a time per batch. */
  private inBackground(batchId: string, work: () => Promise<void>): void {
    this.busy.add(batchId);
    const done = work()
      .catch((error: unknown) => this.options.log?.error({ err: error, batch: batchId }, 'batch step failed; it is retried'))
      .finally(() => {
        this.busy.delete(batchId);
        this.running.delete(done);
        this.wake();
      });
    this.running.add(done);
  }

  /** Expires or finalizes a running batch, or claims the lines it could start now. */
  private async advance(batch: BatchRecord, now: number): Promise<BatchLineRecord[]> {
    const { store } = this.options;
    if (now >= batch.expiresAt * 1000) {
      await store.batches.closePending(batch.id, 'expired', now, this.runningLineNumbers(batch.id));
      await this.finalizeWhenClosed(batch, 'expired');
      return [];
    }
    if ((this.pausedUntil.get(batch.id) ?? 0) > now) return [];
    const running = this.inFlight.get(batch.id) ?? new Set<number>();
    // No more of this batch's lines can start than the per-model limit leaves it.
    const room = (this.options.linesInFlightPerModel ?? defaultLinesInFlightPerModel) - running.size;
    if (room <= 0) return [];
    // Lines running here hold live leases and are not claimed again (the filter is for a lease
    // that ran out under a stalled renewal: this worker runs the line already).
    const claimed = (await store.batches.claimLines(batch.id, this.owner, room, now, this.leaseMs)).filter((line) => !running.has(line.line));
    if (claimed.length === 0) await this.finalizeWhenClosed(batch, 'completed');
    return claimed;
  }

  /** Starts lines while their models have batch capacity left, one batch's line at a time in
   *  turn, so a small batch is not stuck behind a teammate's ten-thousand-line one; returns the
   *  lines left unstarted. */
  private startRoundRobin(startable: { batch: BatchRecord; lines: BatchLineRecord[] }[]): { batch: BatchRecord; lines: BatchLineRecord[] }[] {
    const queues = [...startable];
    // The batch with the fewest lines running goes first: a freed sequence goes to the batch that
    // holds the fewest, not back to the oldest.
    queues.sort((a, b) => this.runningLines(a.batch.id) - this.runningLines(b.batch.id));
    while (queues.length > 0) {
      for (let index = 0; index < queues.length; ) {
        const queue = queues[index]!;
        const position = queue.lines.findIndex((line) => (this.inFlightByModel.get(line.model) ?? 0) < (this.options.linesInFlightPerModel ?? defaultLinesInFlightPerModel));
        if (position < 0) {
          queues.splice(index, 1);
          continue;
        }
        this.launch(queue.batch, queue.lines.splice(position, 1)[0]!);
        index++;
      }
    }
    return startable.filter((queue) => queue.lines.length > 0);
  }

  private launch(batch: BatchRecord, line: BatchLineRecord): void {
    let lines = this.inFlight.get(batch.id);
    if (!lines) this.inFlight.set(batch.id, (lines = new Set()));
    lines.add(line.line);
    this.inFlightByModel.set(line.model, (this.inFlightByModel.get(line.model) ?? 0) + 1);
    const work = this.runLine(batch, line).then(async (closed) => {
      // Still pending: any worker (this one after a 429 pause) may claim it again now.
      if (!closed) await this.options.store.batches.releaseLines(batch.id, this.owner, [line.line]);
    }).catch((error: unknown) => this.options.log?.error({ err: error, batch: batch.id, line: line.line }, 'batch line not recorded; it runs again when its lease runs out'))
    .finally(() => {
      lines.delete(line.line);
      if (lines.size === 0) this.inFlight.delete(batch.id);
      this.inFlightByModel.set(line.model, this.inFlightByModel.get(line.model)! - 1);
      this.running.delete(work);
      this.wake();
    });
    this.running.add(work);
  }

  /** Runs a line and records its result; false when the line stays pending. */
  private async runLine(batch: BatchRecord, line: BatchLineRecord): Promise<boolean> {
    const { store, clock, metrics } = this.options;
    let response: LineResponse;
    try {
      response = await this.options.execute({ api: batch.api, keyId: batch.keyId, endpoint: batch.endpoint, body: line.body });
    } catch (error) {
      // The server could not take the request at all (closing): the line stays pending.
      this.options.log?.warn({ err: error, batch: batch.id, line: line.line }, 'batch line not run; it stays queued');
      return false;
    }
    if (this.stopping && response.statusCode === 503) return false; // cut off by shutdown: run again after restart
    if (response.statusCode === 429) {
      // Out of quota or rate-limited: the key's batch waits for the window, the line is not failed.
      this.pausedUntil.set(batch.id, clock() + (response.retryAfterMs ?? defaultPauseMs));
      return false;
    }
    const succeeded = response.statusCode >= 200 && response.statusCode < 300;
    const usage = succeeded ? tokenUsage(response.body) : { prompt: null, completion: null };
    const recorded = await store.batches.finishLine(batch.id, line.line, {
      state: succeeded ? 'succeeded' : 'errored',
      statusCode: response.statusCode,
      requestId: response.requestId,
      result: JSON.stringify(response.body),
      promptTokens: usage.prompt,
      completionTokens: usage.completion,
      finishedAt: clock(),
    });
    if (recorded) metrics?.lineDone(succeeded ? 'succeeded' : 'errored');
    return true;
  }

  private finalize(batch: BatchRecord, status: 'completed' | 'cancelled' | 'expired'): void {
    const { store, clock, contents } = this.options;
    const now = clock();
    this.pausedUntil.delete(batch.id);
    this.inBackground(batch.id, async () => {
      if (status === 'completed' && batch.api === 'openai' && batch.status === 'in_progress') {
        // OpenAI's life cycle shows finalizing while the output files are written. Guarded: another
        // node may have finalized it (or a cancel come in) since this one read it.
        await store.batches.update(batch.id, { status: 'finalizing', finalizingAt: Math.floor(now / 1000) }, now, [], 'in_progress');
      }
      // Judged by what it is now: a batch another node has already ended is left as it is, and
      // finalizeBatch's own update is guarded by the status read here.
      const current = await store.batches.find(batch.id);
      const from: Record<typeof status, BatchRecord['status'][]> = { completed: ['in_progress', 'finalizing'], cancelled: ['cancelling'], expired: ['in_progress'] };
      if (!current || !from[status].includes(current.status)) return;
      await finalizeBatch(store, contents, current, status, now);
    });
  }
}

/** Prompt and completion tokens of an OpenAI or Anthropic response body. */
function tokenUsage(body: unknown): { prompt: number | null; completion: number | null } {
  const usage = (body as { usage?: Record<string, number> } | null)?.usage;
  if (!usage) return { prompt: null, completion: null };
  return { prompt: usage.prompt_tokens ?? usage.input_tokens ?? null, completion: usage.completion_tokens ?? usage.output_tokens ?? null };
}
