import path from 'node:path';
import { openDatabase, schemaVersion, type Db } from './database.js';
import { RequestLogRepository } from './requestLog.js';

export { type Db, openDatabase, schemaVersion } from './database.js';
export { RequestLogRepository, type RequestLogEntry } from './requestLog.js';

/** The SQLite file in the data dir and one repository per table. */
export class Store {
  readonly requestLog: RequestLogRepository;
  private disposed = false;

  private constructor(readonly db: Db) {
    this.requestLog = new RequestLogRepository(db);
  }

  static open(dataDir: string): Store {
    return new Store(openDatabase(path.join(dataDir, 'llmsvc.sqlite')));
  }

  get schemaVersion(): number {
    return schemaVersion(this.db);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.db.close();
  }
}
