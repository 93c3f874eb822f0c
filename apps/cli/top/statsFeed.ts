import { AdminAuthError, authSentence, type AdminClient, type StatsSnapshot } from './adminClient.js';

export type FeedState = 'connecting' | 'live' | 'reconnecting';

export interface FeedEvents {
  snapshot(snapshot: StatsSnapshot): void;
  state(state: FeedState, detail?: string): void;
  /** The key was refused: the feed stops. */
  authFailed(error: AdminAuthError): void;
}

/** The live snapshots from /admin/v1/stats/stream. When the stream ends or cannot be opened
 *  (the server restarts, the network drops) it reconnects with a backoff of 0.5 s doubling to
 *  5 s, so the UI recovers on its own. Written here rather than with an EventSource package:
 *  Node 20 has none built in, and the reader is a few lines over fetch. */
export class StatsFeed {
  private readonly controller = new AbortController();
  private backoffMs = 500;

  constructor(
    private readonly client: AdminClient,
    private readonly events: FeedEvents,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.controller.abort();
  }

  private async run(): Promise<void> {
    let first = true;
    while (!this.controller.signal.aborted) {
      try {
        await this.readStream(first);
        // The server ended the stream (it is shutting down): reconnect.
        this.events.state('reconnecting', 'the server closed the stream');
      } catch (error) {
        if (this.controller.signal.aborted) return;
        if (error instanceof AdminAuthError) return this.events.authFailed(error);
        this.events.state('reconnecting', (error as Error).message);
      }
      first = false;
      await sleep(this.backoffMs, this.controller.signal);
      this.backoffMs = Math.min(5000, this.backoffMs * 2);
    }
  }

  private async readStream(first: boolean): Promise<void> {
    if (first) this.events.state('connecting');
    let response: Response;
    try {
      response = await fetch(`${this.client.baseUrl}/admin/v1/stats/stream`, { headers: this.client.headers, signal: this.controller.signal });
    } catch (error) {
      const cause = (error as Error).cause;
      throw new Error(`cannot reach ${this.client.baseUrl}${cause instanceof Error ? ` (${cause.message})` : ''}`);
    }
    if (response.status === 401 || response.status === 403) throw new AdminAuthError(authSentence(response.status, this.client.baseUrl));
    if (!response.ok || !response.body) throw new Error(`the server answered ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split('\n').find((line) => line.startsWith('data: '));
        if (!data) continue;
        this.backoffMs = 500;
        this.events.state('live');
        this.events.snapshot(JSON.parse(data.slice('data: '.length)) as StatsSnapshot);
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
