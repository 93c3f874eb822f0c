import type { DesktopBridge } from '../../shared/bridge';

declare global {
  interface Window {
    llmsvcDesktop?: DesktopBridge;
  }
}

export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** The CSRF token of this page's session: in memory only (fetched again from GET /admin/v1/session
 *  on reload). The admin key itself is never kept by the page. */
let csrfToken: string | null = null;
const signedOutListeners = new Set<() => void>();

export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export interface SessionState {
  signed_in: boolean;
  auth?: boolean;
  csrf_token: string | null;
  key_id?: string;
  expires_at?: number;
}

async function parse(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: 'same-origin',
    signal: init.signal,
  });
  const data = await parse(response);
  if (!response.ok) {
    const error = (data as { error?: { message?: string; code?: string } } | null)?.error;
    if (response.status === 401 && path !== '/admin/v1/session') for (const listener of signedOutListeners) listener();
    throw new ApiFailure(error?.message ?? `${method} ${path} failed with HTTP ${response.status}.`, response.status, error?.code ?? null);
  }
  return data as T;
}

export async function loadSession(): Promise<SessionState> {
  const session = await api<SessionState>('/admin/v1/session');
  csrfToken = session.csrf_token;
  return session;
}

export async function signIn(key: string): Promise<SessionState> {
  const session = await api<SessionState>('/admin/v1/session', { method: 'POST', body: { key } });
  csrfToken = session.csrf_token;
  return session;
}

export async function signOut(): Promise<void> {
  await api('/admin/v1/session', { method: 'DELETE' }).catch(() => undefined);
  csrfToken = null;
}

/** Headers for a streaming fetch made outside api(). */
export function writeHeaders(): Record<string, string> {
  return { 'content-type': 'application/json', ...(csrfToken ? { 'x-csrf-token': csrfToken } : {}) };
}

export interface List<T> {
  object: 'list';
  data: T[];
  has_more?: boolean;
  last_id?: string | null;
}
