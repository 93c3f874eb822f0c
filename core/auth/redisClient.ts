import { createHash } from 'node:crypto';
import type { RedisClientType } from '@keyv/redis';
import type { Logger } from 'pino';

/** A Redis client for the limiter and the failed-auth throttle: a command while disconnected
 *  fails at once (the caller decides what that means) rather than waiting for a reconnect, and
 *  the client reconnects by itself whenever the connection drops. Not connected yet: attach the
 *  error handler with `connectWithin`. */
export async function createRedisClient(url: string, name: string, timeoutMs: number): Promise<RedisClientType> {
  // Loaded only when configured (it costs start-up time); @keyv/redis re-exports @redis/client's.
  const { createClient } = await import('@keyv/redis');
  return createClient({
    url,
    name, // shown by CLIENT LIST
    disableOfflineQueue: true,
    commandOptions: { timeout: timeoutMs },
    socket: { connectTimeout: timeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
  }) as unknown as RedisClientType;
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
    try {
      return await client.evalSha(sha, options);
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return client.eval(source, options);
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
