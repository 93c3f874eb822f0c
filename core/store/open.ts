import { SqliteStore, type StoreOptions } from './sqliteStore.js';
import type { Store } from './store.js';

export interface StoreLocation {
  /** The data dir: the SQLite file lives here. */
  dataDir: string;
}

/** The store the config names. */
export async function openStore(location: StoreLocation, options: StoreOptions = {}): Promise<Store> {
  return SqliteStore.open(location.dataDir, options);
}
