import type { JobRecord, Store } from '../store/index.js';
import { isAbandoned, newOwnerId } from './owner.js';
import { wakeableSleep } from './wakeableSleep.js';

export interface JobContext {
  job: JobRecord;
  /** Aborted when the runner stops; the job is then queued again, not failed. */
  signal: AbortSignal;
  /** Records progress on the job (readable by anyone with the data dir, e.g. the CLI). */
  progress(done: number, total: number): Promise<void>;
}

export interface JobHandler {
  kind: string;
  run(context: JobContext): Promise<void>;
  /** The job failed for good (a permanent error, or too many attempts): record it wherever the
   *  job's owner looks (e.g. a vector store file's last_error). */
  failed?(job: JobRecord, message: string): void | Promise<void>;
}

/** An error that retrying cannot fix. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

export interface JobRunnerOptions {
  store: Store;
  handlers: readonly JobHandler[];
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Starts (crashes included) before a job counts as failed. */
  maxAttempts?: number;
  /** A running job whose heartbeat is older than this is taken over. */
  leaseMs?: number;
  heartbeatMs?: number;
  /** How often an idle runner looks for work queued by another process. */
  pollMs?: number;
  now?: () => number;
}

/** Runs queued jobs one at a time. Jobs are rows in SQLite, so they outlive the process: a job
 *  left running by a dead process is queued again (see isAbandoned) and resumed. */
export class JobRunner {
  readonly owner = newOwnerId();
  private readonly handlers: Map<string, JobHandler>;
  private readonly kinds: string[];
  private readonly maxAttempts: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private current: AbortController | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(private readonly options: JobRunnerOptions) {
    this.handlers = new Map(options.handlers.map((handler) => [handler.kind, handler]));
    this.kinds = [...this.handlers.keys()];
    this.maxAttempts = options.maxAttempts ?? 5;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New work was queued: look now rather than at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops taking jobs, aborts the one running (it goes back to the queue) and waits for it. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.abort(new Error('The job runner is stopping.'));
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.recoverAbandoned();
        const job = await this.options.store.jobs.claim(this.kinds, this.owner, this.now());
        if (job) await this.execute(job);
        else await this.idle();
      } catch (error) {
        // The database is busy or closing: wait, then look again.
        this.options.log?.error({ err: error }, 'job runner error');
        await this.idle();
      }
    }
  }

  private async idle(): Promise<void> {
    const due = await this.options.store.jobs.nextDue(this.kinds);
    const wait = due === undefined ? this.pollMs : Math.max(0, Math.min(this.pollMs, due - this.now()));
    const sleep = wakeableSleep(wait);
    this.wakeUp = sleep.wake;
    return sleep.done;
  }

  private async recoverAbandoned(): Promise<void> {
    const { jobs } = this.options.store;
    const now = this.now();
    for (const job of await jobs.running()) {
      if (!this.handlers.has(job.kind) || !isAbandoned(job, this.owner, now, this.leaseMs)) continue;
      if (job.attempts >= this.maxAttempts) {
        await this.fail(job, `The job was interrupted ${job.attempts} times (the process running it stopped); giving up.`);
      } else if (await jobs.requeue(job.id, job.owner, { runAfter: now, countAttempt: true, now })) {
        this.options.log?.warn({ job: job.id, kind: job.kind, owner: job.owner }, 'resuming a job left running by a stopped process');
      }
    }
  }

  private async execute(job: JobRecord): Promise<void> {
    const { jobs } = this.options.store;
    const handler = this.handlers.get(job.kind)!;
    const controller = new AbortController();
    this.current = controller;
    const heartbeat = setInterval(() => {
      jobs.heartbeat(job.id, this.owner, this.now()).catch((error: unknown) => this.options.log?.error({ err: error, job: job.id }, 'could not record a job heartbeat'));
    }, this.heartbeatMs);
    try {
      await handler.run({
        job,
        signal: controller.signal,
        progress: (done, total) => jobs.progress(job.id, done, total, this.now()),
      });
      await jobs.finish(job.id, 'done', null, this.now());
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (controller.signal.aborted && this.stopping) {
        await jobs.requeue(job.id, this.owner, { runAfter: 0, countAttempt: false, now: this.now() });
      } else if (error instanceof PermanentJobError || job.attempts >= this.maxAttempts) {
        await this.fail(job, message);
      } else {
        const backoffMs = 1000 * 2 ** (job.attempts - 1);
        this.options.log?.warn({ job: job.id, kind: job.kind, attempt: job.attempts, err: error }, 'job failed; retrying');
        await jobs.requeue(job.id, this.owner, { runAfter: this.now() + backoffMs, countAttempt: true, error: message, now: this.now() });
      }
    } finally {
      clearInterval(heartbeat);
      this.current = undefined;
    }
  }

  private async fail(job: JobRecord, message: string): Promise<void> {
    await this.options.store.jobs.finish(job.id, 'failed', message, this.now());
    try {
      await this.handlers.get(job.kind)?.failed?.(job, message);
    } catch (error) {
      this.options.log?.error({ err: error, job: job.id }, 'could not record a failed job');
    }
  }
}
