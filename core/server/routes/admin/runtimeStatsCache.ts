import type { RuntimeStats } from '../../../providers/llama/worker/protocol.js';
import type { ModelControl } from './sources.js';

export interface RuntimeSnapshot {
  runtime: RuntimeStats;
  onnxLoaded: string[];
  at: number;
}

const empty: RuntimeSnapshot = { runtime: { backend: null, loaded: [], models: {} }, onnxLoaded: [], at: 0 };

/** The runtime thread's figures, fetched at most once per `maxAgeMs` however many clients poll
 *  /stats: one message to the thread per period, the rest answered from memory. */
export class RuntimeStatsCache {
  private last: RuntimeSnapshot = empty;
  private pending: Promise<RuntimeSnapshot> | undefined;

  constructor(
    private readonly control: ModelControl | undefined,
    private readonly maxAgeMs = 500,
  ) {}

  async get(now = Date.now()): Promise<RuntimeSnapshot> {
    if (!this.control) return empty;
    if (now - this.last.at < this.maxAgeMs) return this.last;
    return this.refresh();
  }

  /** Fresh figures now (after a load or unload). */
  refresh(): Promise<RuntimeSnapshot> {
    const control = this.control;
    if (!control) return Promise.resolve(empty);
    this.pending ??= Promise.all([control.runtimeStats(), control.onnxLoaded().catch(() => [])])
      .then(([runtime, onnxLoaded]) => (this.last = { runtime, onnxLoaded, at: Date.now() }))
      // The thread is starting or gone: the last figures stand (a client sees the model list still).
      .catch(() => this.last)
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}
