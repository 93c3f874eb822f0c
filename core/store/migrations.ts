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
  {
    version: 2,
    name: 'API keys and usage',
    sql: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,                 -- the first characters of the secret, for display
        secret_hash TEXT NOT NULL UNIQUE,     -- sha256 of the secret, hex; the secret itself is never stored
        scope TEXT NOT NULL CHECK (scope IN ('admin', 'user')),
        models TEXT NOT NULL DEFAULT '["*"]', -- JSON array of allowed model patterns
        rpm INTEGER,
        tpm INTEGER,
        max_concurrent INTEGER,
        daily_tokens INTEGER,
        monthly_tokens INTEGER,
        expires_at INTEGER,                   -- unix ms
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        disabled INTEGER NOT NULL DEFAULT 0,
        revoked_at INTEGER
      );
      CREATE TABLE usage_daily (
        key_id TEXT NOT NULL,
        model TEXT NOT NULL,                  -- '' for requests without a model (e.g. GET /v1/models)
        day TEXT NOT NULL,                    -- UTC, YYYY-MM-DD
        requests INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (key_id, model, day)
      );
      ALTER TABLE request_log ADD COLUMN key_id TEXT;
    `,
  },
];
