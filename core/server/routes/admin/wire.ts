/** The admin API's answers as the terminal UI (apps/cli/top) and the web console
 *  (apps/desktop/renderer) read them: one declaration for the server, which builds them, and both
 *  UIs. Types only, with no imports, so the browser build can use it too. */

/** An API key as the admin API shows it (never the secret). Times are unix seconds. */
export interface AdminKey {
  id: string;
  object: 'api_key';
  name: string;
  prefix: string;
  scope: 'admin' | 'user';
  models: string[];
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  daily_tokens: number | null;
  monthly_tokens: number | null;
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
  disabled: boolean;
  revoked: boolean;
  cache: boolean;
}

/** A key as created or rotated: the secret, shown this once. */
export interface AdminCreatedKey extends AdminKey {
  key: string;
}

export type ModelState = 'loaded' | 'loading' | 'unloaded';

/** GET /admin/v1/models and the load/unload answers. */
export interface AdminModel {
  object: 'model';
  id: string;
  kind: 'gguf' | 'onnx';
  state: ModelState;
  backend: string | null;
  parallel: number | null;
  memory_bytes: number | null;
  size_bytes: number | null;
  /** The file or directory name, never a path. */
  file: string;
}

/** GET /admin/v1/jobs: an ingestion or a batch. Times are unix ms. */
export interface AdminJob {
  id: string;
  kind: string;
  state: string;
  progress_done: number;
  progress_total: number | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  // Batches only: which API they came through and where their results are.
  api?: 'openai' | 'anthropic';
  endpoint?: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  results_url?: string | null;
  request_counts?: { succeeded: number; errored: number; canceled: number; expired: number };
}

/** GET /admin/v1/requests: one row of the request log. */
export interface AdminRequestRow {
  id: string;
  created_at: number;
  route: string;
  method: string;
  model: string | null;
  key_id: string | null;
  status: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_ms: number;
  ttft_ms: number | null;
  stream: boolean;
  error_code: string | null;
}

/** One model in the stats snapshot. */
export interface StatsModel {
  id: string;
  kind: 'gguf' | 'onnx';
  state: ModelState;
  backend: string | null;
  parallel: number | null;
  active: number;
  queued: { interactive: number; background: number };
  /** Completion tokens/s over the last minute. */
  decode_tps: number;
  ttft_ms: { p50: number; p95: number } | null;
  memory_bytes: number | null;
  size_bytes: number | null;
  file: string;
  context_size: number | null;
  /** Per second over the last minute, oldest first. */
  series: { completion_tokens: number[] };
}

/** GET /admin/v1/stats and each event of /admin/v1/stats/stream. */
export interface StatsSnapshot {
  object: 'stats';
  time: number;
  version: string;
  uptime_s: number;
  models: StatsModel[];
  totals: {
    requests_per_s: number;
    errors_per_s: { '4xx': number; '5xx': number };
    prompt_tokens_per_s: number;
    completion_tokens_per_s: number;
    cache_hit_rate: number | null;
    active_requests: number;
    series: { requests: number[]; completion_tokens: number[]; errors: number[] };
  };
  upstreams: { provider: string; state: 'closed' | 'open' | 'half_open'; failures: number }[];
  jobs: { id: string; kind: string; state: string; progress_done: number; progress_total: number | null }[];
}
