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
  {
    version: 3,
    name: 'files, vector stores and durable jobs',
    sql: `
      -- Uploaded files (OpenAI's Files API). The content lives in the row: one SQLite file to back
      -- up, and an upload is all there or absent.
      CREATE TABLE files (
        id TEXT PRIMARY KEY,                  -- file-...
        filename TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        created_at INTEGER NOT NULL,          -- unix seconds, as OpenAI reports it
        sha256 TEXT NOT NULL,                 -- of the content, hex
        content BLOB NOT NULL
      );
      CREATE TABLE vector_stores (
        id TEXT PRIMARY KEY,                  -- vs_...
        name TEXT NOT NULL,
        description TEXT,
        embedding_model TEXT NOT NULL,
        dimensions INTEGER NOT NULL,
        chunking_strategy TEXT NOT NULL,      -- JSON {max_chunk_size_tokens, chunk_overlap_tokens}: the default of its files
        metadata TEXT,                        -- JSON object or NULL
        expires_after_days INTEGER,           -- OpenAI's expires_after {anchor: last_active_at, days}
        last_active_at INTEGER NOT NULL,      -- unix seconds
        created_at INTEGER NOT NULL
      );
      CREATE TABLE vector_store_files (
        vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
        file_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'failed', 'cancelled')),
        last_error TEXT,                      -- JSON {code, message} or NULL
        attributes TEXT,                      -- JSON object or NULL
        chunking_strategy TEXT NOT NULL,      -- JSON {max_chunk_size_tokens, chunk_overlap_tokens}
        content_sha256 TEXT NOT NULL,
        duplicate_of TEXT,                    -- a file of the same store with the same content, whose chunks serve this one
        usage_bytes INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (vector_store_id, file_id)
      );
      CREATE INDEX vector_store_files_file ON vector_store_files (file_id);
      CREATE INDEX vector_store_files_content ON vector_store_files (vector_store_id, content_sha256);
      -- The durable work queue (core/jobs). A job left 'running' by a dead process is queued again.
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,                -- JSON
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,  -- times started
        progress_done INTEGER NOT NULL DEFAULT 0,
        progress_total INTEGER,
        error TEXT,
        owner TEXT,                           -- host:pid:token of the runner that holds it
        heartbeat_at INTEGER,                 -- unix ms
        run_after INTEGER NOT NULL DEFAULT 0, -- unix ms; retries back off
        created_at INTEGER NOT NULL,          -- unix ms
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX jobs_queue ON jobs (state, run_after, created_at);
      -- Embeddings an ingestion job has made so far: a restarted job resumes from them. Never
      -- searchable; the chunks reach the vector index in one transaction at the end.
      CREATE TABLE ingest_embeddings (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        chunk_index INTEGER NOT NULL,
        embedding BLOB NOT NULL,              -- float32, little-endian
        PRIMARY KEY (job_id, chunk_index)
      );
    `,
  },
  {
    version: 4,
    name: 'API keys opt in to the response cache',
    sql: `
      -- 1: cache answers to the key's requests even when sampling is random (no seed, temperature above 0).
      ALTER TABLE api_keys ADD COLUMN cache INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 5,
    name: 'request log in arrival order',
    sql: `
      -- The request id was the primary key: every row went into a random page of its index, so a
      -- commit of n rows wrote ~n index pages to the WAL. Rows now go to the end of the table (rowid)
      -- and of the created_at index. The id stays a column; a client that reuses an x-request-id
      -- gets a row per request instead of replacing the earlier one.
      CREATE TABLE request_log_v5 (
        id TEXT NOT NULL,
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
        prompt_text TEXT,                   -- only when log_prompts is on
        key_id TEXT
      );
      INSERT INTO request_log_v5 (id, created_at, route, method, model, status, prompt_tokens, completion_tokens,
        latency_ms, ttft_ms, stream, error_code, prompt_text, key_id)
      SELECT id, created_at, route, method, model, status, prompt_tokens, completion_tokens,
        latency_ms, ttft_ms, stream, error_code, prompt_text, key_id
      FROM request_log ORDER BY created_at, rowid;
      DROP TABLE request_log;
      ALTER TABLE request_log_v5 RENAME TO request_log;
      CREATE INDEX request_log_created_at ON request_log (created_at);
    `,
  },
  {
    version: 6,
    name: 'stored responses (OpenAI Responses API)',
    sql: `
      -- A response created with store: true, for GET /v1/responses/{id} and previous_response_id.
      CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        key_id TEXT,                          -- the API key that created it (NULL with auth off); only it or an admin key reads it
        created_at INTEGER NOT NULL,          -- unix seconds
        model TEXT NOT NULL,
        response TEXT NOT NULL,               -- the Response object as returned, JSON
        context TEXT NOT NULL,                -- every input item the model read (earlier turns, then this request's input), JSON
        input_count INTEGER NOT NULL          -- how many of context's last items were this request's input
      );
    `,
  },
  {
    version: 7,
    name: 'batch jobs (OpenAI Batch API and Anthropic Message Batches); file contents in the blob store',
    sql: `
      CREATE TABLE batches (
        id TEXT PRIMARY KEY,                  -- batch_... (OpenAI) or msgbatch_... (Anthropic)
        api TEXT NOT NULL CHECK (api IN ('openai', 'anthropic')),
        key_id TEXT,                          -- the submitting key: its lines run as its requests; NULL with auth off
        endpoint TEXT NOT NULL,               -- the route every line is sent to
        input_file_id TEXT,                   -- OpenAI only
        completion_window TEXT NOT NULL,
        metadata TEXT,                        -- JSON object or NULL
        status TEXT NOT NULL CHECK (status IN ('validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled')),
        errors TEXT,                          -- JSON [{code, line, message, param}] when validation failed
        output_file_id TEXT,
        error_file_id TEXT,
        created_at INTEGER NOT NULL,          -- unix seconds, like every *_at here
        in_progress_at INTEGER,
        expires_at INTEGER NOT NULL,
        finalizing_at INTEGER,
        completed_at INTEGER,
        failed_at INTEGER,
        expired_at INTEGER,
        cancelling_at INTEGER,
        cancelled_at INTEGER,
        updated_at INTEGER NOT NULL           -- unix ms
      );
      CREATE INDEX batches_status ON batches (status);
      -- One row per request of a batch. A line's result and its state are one row, so they are
      -- written in one statement: after a crash a line is either done (and never run again) or
      -- pending (and run again), and the output files are made from these rows once, at the end.
      CREATE TABLE batch_lines (
        batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
        line INTEGER NOT NULL,                -- 1-based line of the input file (Anthropic: position in requests)
        custom_id TEXT NOT NULL,
        model TEXT NOT NULL,
        body TEXT NOT NULL,                   -- JSON request body
        state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'errored', 'canceled', 'expired')),
        status_code INTEGER,
        request_id TEXT,
        result TEXT,                          -- JSON response or error body
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        finished_at INTEGER,                  -- unix ms
        PRIMARY KEY (batch_id, line)
      );
      CREATE INDEX batch_lines_state ON batch_lines (batch_id, state);
      -- File contents move out of SQLite into the blob store (core/storage: the data dir or S3).
      -- A row with a blob_key has its content there and an empty content BLOB; a row without one
      -- (written before this version) still has it here until the server moves it at start.
      ALTER TABLE files ADD COLUMN blob_key TEXT;
      CREATE INDEX files_blob_key ON files (blob_key);
    `,
  },
  {
    version: 8,
    name: 'batch line leases (several nodes share the batch queue)',
    sql: `
      -- A pending line a worker has claimed: no other worker starts it until lease_until passes
      -- (the holder renews it while the line runs) or the holder releases it. A node that dies
      -- mid-line loses nothing: its leases run out and another node claims the lines.
      ALTER TABLE batch_lines ADD COLUMN lease_owner TEXT;   -- host:pid:token of the worker (core/jobs/owner.ts)
      ALTER TABLE batch_lines ADD COLUMN lease_until INTEGER; -- unix ms
      -- Claims read a batch's pending lines in line order: with line in the index, the lines already
      -- done are never read (batch_lines_state's (batch_id, state) is a prefix of it).
      DROP INDEX batch_lines_state;
      CREATE INDEX batch_lines_pending ON batch_lines (batch_id, state, line);
    `,
  },
];
