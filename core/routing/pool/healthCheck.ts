import type { Secret } from '../../config/index.js';

export interface HealthCheckSettings {
  /** Resolved against the member's base URL ("models" → <base_url>/models, "/health" → the root's). */
  path: string;
  interval_ms: number;
  timeout_ms: number;
}

export interface CheckedMember {
  baseUrl: string;
  apiKey?: Secret;
}

/** Checks each member of a pool every `interval_ms` with a GET of `path` (2xx: healthy) and
 *  reports every result. One check per member at a time (the next is scheduled when the last
 *  ends); timers are unref'd and stop() aborts the checks in flight, so checks never keep the
 *  process alive. */
export class HealthChecks {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #stopping = new AbortController();

  constructor(
    private readonly members: readonly CheckedMember[],
    private readonly settings: HealthCheckSettings,
    private readonly onResult: (index: number, healthy: boolean) => void,
  ) {}

  /** Runs a first check of every member now, then one per interval. */
  start(): void {
    this.members.forEach((_member, index) => void this.#check(index));
  }

  stop(): void {
    this.#stopping.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  async #check(index: number): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    const member = this.members[index]!;
    const healthy = await probe(checkUrl(member.baseUrl, this.settings.path), member.apiKey, this.settings.timeout_ms, this.#stopping.signal);
    if (this.#stopping.signal.aborted) return;
    this.onResult(index, healthy);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#check(index);
    }, this.settings.interval_ms);
    timer.unref();
    this.#timers.add(timer);
  }
}

/** The URL a member's health check fetches. */
export function checkUrl(baseUrl: string, path: string): string {
  return new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
}

async function probe(url: string, apiKey: Secret | undefined, timeoutMs: number, stopping: AbortSignal): Promise<boolean> {
  try {
    const response = await fetch(url, {
      headers: apiKey ? { authorization: `Bearer ${apiKey.reveal()}` } : {},
      signal: AbortSignal.any([stopping, AbortSignal.timeout(timeoutMs)]),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
