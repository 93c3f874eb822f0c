import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type KeyvRedis from '@keyv/redis';
import type KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';

/** Where entries live: Redis when a URL is given (shared by several llmsvc instances), else a
 *  SQLite file of the cache's own (kept apart from the main database: it may be deleted at will). */
export type StoreLocation = { redisUrl: string } | { sqlitePath: string };

const namespace = 'llmsvc-cache';
const sqliteTable = 'response_cache';

// The adapters load with the first store opened, and only the one used: importing @keyv/redis
// cost ~200 ms and ~15 MB of every start-up, measured, for a store most installs never use.
const redisStores = new WeakMap<Keyv, KeyvRedis<unknown>>();
const sqliteStores = new WeakMap<Keyv, KeyvSqlite>();

/** A Keyv that throws on store errors (the caller decides that an error is a miss, and logs it)
 *  and whose Redis client fails fast instead of waiting: no offline queue, no reconnect loop.
 *  After a failure the caller drops this Keyv and opens a fresh one later (reconnecting in
 *  place would add listeners to the client on every reconnect in @keyv/redis 5.1). */
export async function openKeyv(location: StoreLocation, connectTimeoutMs: number): Promise<Keyv> {
  if ('redisUrl' in location) {
    const { default: KeyvRedis, createClient } = await import('@keyv/redis');
    const client = createClient({
      url: location.redisUrl,
      name: namespace, // shown by CLIENT LIST
      disableOfflineQueue: true,
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: false },
    });
    const store = new KeyvRedis(client, { throwOnErrors: true, throwOnConnectError: true, connectionTimeout: connectTimeoutMs });
    // Connect once here, so that concurrent first operations share one connection attempt.
    await store.getClient();
    // The adapter prefixes keys itself ("llmsvc-cache::<key>"); Keyv's own prefix would double it.
    const keyv = new Keyv({ store, namespace, useKeyPrefix: false, throwOnErrors: true });
    redisStores.set(keyv, store);
    return keyv;
  }
  mkdirSync(path.dirname(location.sqlitePath), { recursive: true });
  const { default: KeyvSqlite } = await import('@keyv/sqlite');
  const store = new KeyvSqlite({ uri: `sqlite://${location.sqlitePath}`, table: sqliteTable, busyTimeout: connectTimeoutMs });
  // A first query, so that a file that cannot be opened fails here (and is handled) rather than
  // as an unhandled rejection inside @keyv/sqlite.
  await store.query('SELECT 1');
  const keyv = new Keyv({ store, namespace, throwOnErrors: true });
  sqliteStores.set(keyv, store);
  return keyv;
}

/** False once a Redis connection has been closed (by the server, or a network failure). */
export function isOpen(keyv: Keyv): boolean {
  return redisStores.get(keyv)?.client.isOpen ?? true;
}

/** Deletes expired entries. Redis expires them itself; @keyv/sqlite has no TTL support (Keyv
 *  only skips expired entries when they are read), so without this the file would keep every
 *  answer it ever stored. Keyv keeps the expiry time in the stored JSON. */
export async function purgeExpired(keyv: Keyv, now: number): Promise<void> {
  const store = sqliteStores.get(keyv);
  if (!store) return;
  await store.query(`DELETE FROM ${sqliteTable} WHERE json_extract(value, '$.expires') < ?`, now);
}
