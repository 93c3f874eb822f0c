import type { Db } from './database.js';
import { camelCaseRow, snakeCaseRow } from './rows.js';

export type KeyScope = 'admin' | 'user';

export interface KeyLimits {
  rpm: number | null;
  tpm: number | null;
  maxConcurrent: number | null;
  dailyTokens: number | null;
  monthlyTokens: number | null;
}

export interface ApiKeyRecord extends KeyLimits {
  id: string;
  name: string;
  prefix: string;
  secretHash: string;
  scope: KeyScope;
  /** Allowed model patterns (`*` wildcards). */
  models: string[];
  expiresAt: number | null;
  createdAt: number;
  lastUsedAt: number | null;
  disabled: boolean;
  revokedAt: number | null;
  /** Cache answers to this key's requests even when sampling is random (temperature above 0, no seed). */
  cache: boolean;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  scope: KeyScope;
  models: string;
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  daily_tokens: number | null;
  monthly_tokens: number | null;
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
  disabled: number;
  revoked_at: number | null;
  cache: number;
}

export function fromRow(row: ApiKeyRow): ApiKeyRecord {
  return { ...camelCaseRow(row), models: JSON.parse(row.models) as string[], disabled: row.disabled === 1, cache: row.cache === 1 } as ApiKeyRecord;
}

export function toRow(key: ApiKeyRecord): ApiKeyRow {
  return { ...snakeCaseRow(key), models: JSON.stringify(key.models), disabled: key.disabled ? 1 : 0, cache: key.cache ? 1 : 0 } as ApiKeyRow;
}

/** The row's columns, named (PostgreSQL's tables also have a rowid column). */
const columns =
  'id, name, prefix, secret_hash, scope, models, rpm, tpm, max_concurrent, daily_tokens, monthly_tokens, expires_at, created_at, last_used_at, disabled, revoked_at, cache';

/** The table's statements, in SQL both engines run (PostgreSQL's repository numbers the `?` and
 *  `@name` parameters: core/store/postgres/sql.ts). */
export const apiKeySql = {
  byHash: `SELECT ${columns} FROM api_keys WHERE secret_hash = ?`,
  byId: `SELECT ${columns} FROM api_keys WHERE id = ?`,
  all: `SELECT ${columns} FROM api_keys ORDER BY created_at, id`,
  upsert: `
    INSERT INTO api_keys (id, name, prefix, secret_hash, scope, models, rpm, tpm, max_concurrent, daily_tokens,
      monthly_tokens, expires_at, created_at, last_used_at, disabled, revoked_at, cache)
    VALUES (@id, @name, @prefix, @secret_hash, @scope, @models, @rpm, @tpm, @max_concurrent, @daily_tokens,
      @monthly_tokens, @expires_at, @created_at, @last_used_at, @disabled, @revoked_at, @cache)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, prefix = excluded.prefix, secret_hash = excluded.secret_hash,
      scope = excluded.scope, models = excluded.models, rpm = excluded.rpm, tpm = excluded.tpm,
      max_concurrent = excluded.max_concurrent, daily_tokens = excluded.daily_tokens,
      monthly_tokens = excluded.monthly_tokens, expires_at = excluded.expires_at, disabled = excluded.disabled,
      revoked_at = excluded.revoked_at, cache = excluded.cache`,
  touch: 'UPDATE api_keys SET last_used_at = ? WHERE id = ?',
} as const;

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface ApiKeyStore {
  /** Saves through this store: a cache of keys drops its entries when this moves. Synchronous,
   *  as it is read on every request (a cache hit must cost no I/O). */
  readonly saveCount: number;
  /** A number that changes whenever another connection has committed (see ApiKeyRepository);
   *  synchronous and cheap, read at most once per event-loop turn by KeyService. */
  dataVersion(): number;
  findByHash(secretHash: string): Promise<ApiKeyRecord | undefined>;
  find(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  save(key: ApiKeyRecord): Promise<void>;
  /** Reads the key, applies `change` and saves the result, atomically (two changes of one key
   *  that arrive together both apply). Undefined when there is no such key; what `change` throws
   *  is thrown, and nothing is saved. */
  modify(id: string, change: (key: ApiKeyRecord) => ApiKeyRecord): Promise<ApiKeyRecord | undefined>;
  touch(id: string, at: number): Promise<void>;
}

/** The api_keys table. `saveCount` and `dataVersion()` tell a cache of keys (KeyService keeps
 *  one) whether the table may have changed since it last looked: the first moves with every save
 *  through this repository, the second with every commit by another connection to the same file
 *  (the CLI, from another process). */
export class ApiKeyRepository implements ApiKeyStore {
  private readonly byHash;
  private readonly dataVersionStatement;
  private saves = 0;
  private readonly byId;
  private readonly all;
  private readonly upsertStatement;
  private readonly touchStatement;
  private readonly modifyTransaction;

  constructor(db: Db) {
    this.byHash = db.prepare<[string], ApiKeyRow>(apiKeySql.byHash);
    this.byId = db.prepare<[string], ApiKeyRow>(apiKeySql.byId);
    this.all = db.prepare<[], ApiKeyRow>(apiKeySql.all);
    this.upsertStatement = db.prepare(apiKeySql.upsert);
    this.touchStatement = db.prepare(apiKeySql.touch);
    this.dataVersionStatement = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.modifyTransaction = db.transaction((id: string, change: (key: ApiKeyRecord) => ApiKeyRecord) => {
      const row = this.byId.get(id);
      if (!row) return undefined;
      const changed = change(fromRow(row));
      this.saves++;
      this.upsertStatement.run(toRow(changed));
      return changed;
    });
  }

  /** Saves through this repository (SQLite's data_version does not move for a connection's own commits). */
  get saveCount(): number {
    return this.saves;
  }

  /** SQLite's `PRAGMA data_version`: changes whenever another connection (another process) has
   *  committed to the database, whatever the table; a few microseconds, no table is read. */
  dataVersion(): number {
    return this.dataVersionStatement.get()!;
  }

  async findByHash(secretHash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.byHash.get(secretHash);
    return row && fromRow(row);
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.byId.get(id);
    return row && fromRow(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.all.all().map(fromRow);
  }

  async save(key: ApiKeyRecord): Promise<void> {
    this.saves++;
    this.upsertStatement.run(toRow(key));
  }

  async modify(id: string, change: (key: ApiKeyRecord) => ApiKeyRecord): Promise<ApiKeyRecord | undefined> {
    return this.modifyTransaction(id, change);
  }

  async touch(id: string, at: number): Promise<void> {
    return this.touchSync(id, at);
  }

  /** touch, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  touchSync(id: string, at: number): void {
    this.touchStatement.run(at, id);
  }
}
