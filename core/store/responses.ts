import type { Db } from './database.js';

/** A stored Response (OpenAI Responses API): the object as returned, and the input items the
 *  model read, so that a later request can continue it with previous_response_id. Items and the
 *  response are kept as JSON: the store does not interpret them. */
export interface StoredResponse {
  id: string;
  /** The API key that created it; undefined when auth is off. */
  keyId?: string;
  /** Unix seconds. */
  createdAt: number;
  model: string;
  response: Record<string, unknown>;
  /** Every input item the model read: the earlier turns' items, then this request's input. */
  context: Record<string, unknown>[];
  /** How many of context's last items were this request's own input. */
  inputCount: number;
}

export interface ResponseRow {
  id: string;
  key_id: string | null;
  created_at: number;
  model: string;
  response: string;
  context: string;
  input_count: number;
}

export function fromRow(row: ResponseRow): StoredResponse {
  return {
    id: row.id,
    ...(row.key_id === null ? {} : { keyId: row.key_id }),
    createdAt: row.created_at,
    model: row.model,
    response: JSON.parse(row.response) as Record<string, unknown>,
    context: JSON.parse(row.context) as Record<string, unknown>[],
    inputCount: row.input_count,
  };
}

export function toRow(stored: StoredResponse): ResponseRow {
  return {
    id: stored.id,
    key_id: stored.keyId ?? null,
    created_at: stored.createdAt,
    model: stored.model,
    response: JSON.stringify(stored.response),
    context: JSON.stringify(stored.context),
    input_count: stored.inputCount,
  };
}

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). */
export const responseSql = {
  insert: `
    INSERT INTO responses (id, key_id, created_at, model, response, context, input_count)
    VALUES (@id, @key_id, @created_at, @model, @response, @context, @input_count)`,
  byId: 'SELECT id, key_id, created_at, model, response, context, input_count FROM responses WHERE id = ?',
  delete: 'DELETE FROM responses WHERE id = ?',
} as const;

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface ResponseStore {
  insert(stored: StoredResponse): Promise<void>;
  find(id: string): Promise<StoredResponse | undefined>;
  delete(id: string): Promise<boolean>;
}

/** The responses table. */
export class ResponseRepository implements ResponseStore {
  private readonly insertStatement;
  private readonly byId;
  private readonly deleteStatement;

  constructor(db: Db) {
    this.insertStatement = db.prepare(responseSql.insert);
    this.byId = db.prepare<[string], ResponseRow>(responseSql.byId);
    this.deleteStatement = db.prepare<[string]>(responseSql.delete);
  }

  async insert(stored: StoredResponse): Promise<void> {
    this.insertStatement.run(toRow(stored));
  }

  async find(id: string): Promise<StoredResponse | undefined> {
    const row = this.byId.get(id);
    return row && fromRow(row);
  }

  async delete(id: string): Promise<boolean> {
    return this.deleteStatement.run(id).changes > 0;
  }
}
