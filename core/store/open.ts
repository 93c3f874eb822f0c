import type { PostgresStoreOptions } from './postgres/store.js';
import { SqliteStore } from './sqliteStore.js';
import type { Store } from './store.js';

export interface StoreLocation {
  /** The data dir: the SQLite file lives here (on PostgreSQL, this node's copy of the vector indexes). */
  dataDir: string;
  /** config.database_url: PostgreSQL instead of the SQLite file. */
  databaseUrl?: string | undefined;
}

/** The store the config names: PostgreSQL when `databaseUrl` is set, else the data dir's SQLite file. */
export async function openStore(location: StoreLocation, options: PostgresStoreOptions = {}): Promise<Store> {
  if (location.databaseUrl === undefined) return SqliteStore.open(location.dataDir, options);
  // Loaded only here: a box on SQLite never loads the PostgreSQL client.
  const { PostgresStore } = await import('./postgres/store.js');
  return PostgresStore.open(location.databaseUrl, location.dataDir, options);
}
