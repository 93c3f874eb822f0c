import type { AdminCreatedKey, AdminJob, AdminKey, AdminModel, AdminRequestRow, StatsModel, StatsSnapshot } from '../../../core/server/routes/admin/wire.js';

// The admin API's answers, declared once in core for the server and both UIs.
export type { StatsSnapshot };
export type ModelStats = StatsModel;
export type KeyInfo = AdminKey;
export type CreatedKey = AdminCreatedKey;
export type ModelInfo = AdminModel;
export type JobInfo = AdminJob;
export type RequestRow = AdminRequestRow;

export interface UsageRow {
  key_id: string;
  total_tokens: number;
  day: string;
}

/** The admin key was refused (401) or lacks the admin scope (403). */
export class AdminAuthError extends Error {}

/** The server answered with an error body; `message` is its sentence. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The server could not be reached. */
export class AdminConnectionError extends Error {}

/** The admin API over HTTP: every change the terminal UI makes goes through here. */
export class AdminClient {
  constructor(
    readonly baseUrl: string,
    private readonly adminKey: string,
  ) {}

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.adminKey}` };
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ?? AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new AdminConnectionError(`cannot reach ${this.baseUrl} (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message})`);
    }
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (response.status === 401 || response.status === 403) {
      throw new AdminAuthError(authSentence(response.status, this.baseUrl));
    }
    if (!response.ok) {
      const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${response.status}`;
      throw new AdminApiError(response.status, message);
    }
    return parsed as T;
  }

  stats(): Promise<StatsSnapshot> {
    return this.request('GET', '/admin/v1/stats');
  }

  async keys(): Promise<KeyInfo[]> {
    return (await this.request<{ data: KeyInfo[] }>('GET', '/admin/v1/keys')).data;
  }

  createKey(input: Record<string, unknown>): Promise<CreatedKey> {
    return this.request('POST', '/admin/v1/keys', input);
  }

  updateKey(id: string, patch: Record<string, unknown>): Promise<KeyInfo> {
    return this.request('PATCH', `/admin/v1/keys/${encodeURIComponent(id)}`, patch);
  }

  revokeKey(id: string): Promise<KeyInfo> {
    return this.request('DELETE', `/admin/v1/keys/${encodeURIComponent(id)}`);
  }

  rotateKey(id: string): Promise<CreatedKey> {
    return this.request('POST', `/admin/v1/keys/${encodeURIComponent(id)}/rotate`);
  }

  async usageToday(day: string): Promise<UsageRow[]> {
    return (await this.request<{ data: UsageRow[] }>('GET', `/admin/v1/usage?from=${day}&to=${day}`)).data;
  }

  async models(): Promise<ModelInfo[]> {
    return (await this.request<{ data: ModelInfo[] }>('GET', '/admin/v1/models')).data;
  }

  loadModel(id: string): Promise<ModelInfo> {
    return this.request('POST', `/admin/v1/models/${encodeURIComponent(id)}/load`, undefined, AbortSignal.timeout(300_000));
  }

  unloadModel(id: string): Promise<ModelInfo> {
    return this.request('POST', `/admin/v1/models/${encodeURIComponent(id)}/unload`);
  }

  async jobs(): Promise<JobInfo[]> {
    return (await this.request<{ data: JobInfo[] }>('GET', '/admin/v1/jobs?limit=50')).data;
  }

  cancelJob(id: string): Promise<JobInfo> {
    return this.request('POST', `/admin/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  async requests(filters: { key_id?: string; status?: string }, limit = 50): Promise<RequestRow[]> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (filters.key_id) query.set('key_id', filters.key_id);
    if (filters.status) query.set('status', filters.status);
    return (await this.request<{ data: RequestRow[] }>('GET', `/admin/v1/requests?${query}`)).data;
  }
}

export function authSentence(status: number, baseUrl: string): string {
  return status === 403
    ? `The key given to llmsvc top is not an admin key; ${baseUrl} refused it (403). Use the admin key (LLMSVC_ADMIN_KEY, <data-dir>/admin.key or --admin-key-file).`
    : `The admin key was refused by ${baseUrl} (401): it is wrong, revoked or expired. Set LLMSVC_ADMIN_KEY or pass --admin-key-file with the server's admin key.`;
}
