import { Counter, Gauge, type Registry } from 'prom-client';
import type { BatchStatus, Store } from '../store/index.js';

const statuses: readonly BatchStatus[] = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'];

/** Batch metrics on the HTTP side's registry: batches by status, lines done by result, queue
 *  depth, and lines per second over the last minute. */
export function createBatchMetrics(registry: Registry) {
  const registers = [registry];
  const batches = new Gauge({ name: 'llmsvc_batches', help: 'Batch jobs by status (OpenAI and Anthropic batches)', labelNames: ['status'] as const, registers });
  const lines = new Counter({ name: 'llmsvc_batch_lines_total', help: 'Batch lines finished, by result (succeeded, errored)', labelNames: ['result'] as const, registers });
  const queueDepth = new Gauge({ name: 'llmsvc_batch_queue_depth', help: 'Batch lines waiting to run across running batches', registers });
  const linesPerSecond = new Gauge({ name: 'llmsvc_batch_lines_per_second', help: 'Batch lines finished per second over the last minute', registers });
  /** Finish times (unix ms) of the last minute's lines. */
  let recent: number[] = [];
  const windowMs = 60_000;
  return {
    lineDone(result: 'succeeded' | 'errored') {
      lines.inc({ result });
      recent.push(Date.now());
    },
    /** Reads the tables' figures (called by the worker on each pass). */
    async observe(store: Store) {
      const counts = new Map((await store.batches.statusCounts()).map((row) => [row.status, row.n]));
      for (const status of statuses) batches.set({ status }, counts.get(status) ?? 0);
      queueDepth.set(await store.batches.queueDepth());
      const now = Date.now();
      recent = recent.filter((at) => at > now - windowMs);
      linesPerSecond.set(recent.length / (windowMs / 1000));
    },
  };
}

export type BatchMetrics = ReturnType<typeof createBatchMetrics>;
