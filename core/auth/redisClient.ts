import type { RedisClientType } from '@keyv/redis';

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
