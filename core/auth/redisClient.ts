import { createHash } from 'node:crypto';
import type { RedisClientType } from '@keyv/redis';
import type { Logger } from 'pino';

/** The deadlines of each client's scripts (see CommandDeadlines). */
const deadlinesOf = new WeakMap<RedisClientType, CommandDeadlines>();

/** A Redis client for the limiter and the failed-auth throttle: a command while disconnected
 *  fails at once (the caller decides what that means) rather than waiting for a reconnect, a
 *  script with no answer in `timeoutMs` fails (a Redis that hangs), and the client reconnects by
 *  itself whenever the connection drops. Not connected yet: attach the error handler with
 *  `connectWithin`. */
export async function createRedisClient(url: string, name: string, timeoutMs: number): Promise<RedisClientType> {
  // Loaded only when configured (it costs start-up time); @keyv/redis re-exports @redis/client's.
  const { createClient } = await import('@keyv/redis');
  const client = createClient({
    url,
    name, // shown by CLIENT LIST
    disableOfflineQueue: true,
    socket: { connectTimeout: timeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
  }) as unknown as RedisClientType;
  deadlinesOf.set(client, new CommandDeadlines(timeoutMs));
  return client;
}

/** Fails a command that has no answer within `timeoutMs`, with one timer for all of a client's
 *  commands. node-redis's own per-command timeout (commandOptions.timeout) makes an
 *  AbortSignal.timeout for every command: measured here, 24 µs of CPU per EVALSHA with it against
 *  5 µs without, and a limited request sends two. One connection answers in the order it was
 *  asked, and every command gets the same timeout, so the oldest command still waiting is the
 *  first to be overdue: a sweep only looks at the head of the queue. */
export class CommandDeadlines {
  private readonly queue: { deadline: number; settled: boolean; fail: (error: Error) => void }[] = [];
  private head = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  track<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { deadline: performance.now() + this.timeoutMs, settled: false, fail: reject };
      this.queue.push(entry);
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(10, this.timeoutMs / 4)).unref();
      command.then(
        (value) => {
          entry.settled = true;
          resolve(value);
        },
        (error: unknown) => {
          entry.settled = true;
          reject(error as Error);
        },
      );
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (; this.head < this.queue.length; this.head++) {
      const entry = this.queue[this.head]!;
      if (entry.settled) continue;
      if (entry.deadline > now) break;
      entry.settled = true;
      entry.fail(new Error(`Redis did not answer within ${this.timeoutMs} ms`));
    }
    this.queue.splice(0, this.head);
    this.head = 0;
    if (this.queue.length === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** Connects, waiting at most `timeoutMs`: a Redis that is up serves the first request; one that
 *  is down does not hold the start-up longer than a command would wait. */
export async function connectWithin(client: RedisClientType, timeoutMs: number, onError: (error: unknown) => void): Promise<void> {
  client.on('error', onError);
  const connecting = client.connect().then(() => {}, onError);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([connecting, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}

/** A Lua script run by its SHA; its source is sent only when Redis answers NOSCRIPT (the first
 *  use, or after Redis restarted or flushed its scripts). */
export function luaScript(source: string): (client: RedisClientType, keys: string[], args: string[]) => Promise<unknown> {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (client, keys, args) => {
    const options = { keys, arguments: args };
    const deadlines = deadlinesOf.get(client);
    const timed = <T>(command: Promise<T>) => (deadlines ? deadlines.track(command) : command);
    try {
      return await timed(client.evalSha(sha, options));
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return timed(client.eval(source, options));
    }
  };
}

/** Logs Redis failures at most once every 10 s: a Redis that is down fails every request. */
export function redisFailureLog(logger: Logger, message: string): (error: unknown) => void {
  let lastLoggedAt = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastLoggedAt < 10_000) return;
    lastLoggedAt = now;
    logger.error({ err: error }, message);
  };
}
