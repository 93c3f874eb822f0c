import path from 'node:path';
import { openDatabase, type Db } from './database.js';
import { ApiKeyRepository } from './apiKeys.js';
import { RequestLogRepository } from './requestLog.js';
import { UsageRepository } from './usage.js';

export { type Db, openDatabase, schemaVersion } from './database.js';
export { RequestLogRepository, type RequestLogEntry } from './requestLog.js';
export { ApiKeyRepository, type ApiKeyRecord, type KeyLimits, type KeyScope } from './apiKeys.js';
export { UsageRepository, type UsageRecord, type UsageRow } from './usage.js';

/** The SQLite file in the data dir and one repository per table. */
export class Store {
  readonly requestLog: RequestLogRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly usage: UsageRepository;
  private disposed = false;

  private constructor(readonly db: Db) {
    this.requestLog = new RequestLogRepository(db);
    this.apiKeys = new ApiKeyRepository(db);
    this.usage = new UsageRepository(db);
  }

  static open(dataDir: string): Store {
    return new Store(openDatabase(path.join(dataDir, 'llmsvc.sqlite')));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.db.close();
  }
}
