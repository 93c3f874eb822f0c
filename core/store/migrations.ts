/** Schema versions, applied in order, each once, each in its own transaction. Append only:
 *  a shipped migration is never edited, a change is a new entry. */
export const migrations: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'request log',
    sql: `
      CREATE TABLE request_log (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,        -- unix ms
        route TEXT NOT NULL,
        method TEXT NOT NULL,
        model TEXT,
        status INTEGER NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        latency_ms REAL NOT NULL,
        ttft_ms REAL,
        stream INTEGER NOT NULL DEFAULT 0,
        error_code TEXT,
        prompt_text TEXT                    -- only when log_prompts is on
      );
      CREATE INDEX request_log_created_at ON request_log (created_at);
    `,
  },
];
