import fs from 'node:fs';
import path from 'node:path';

export interface SessionCookie {
  name: string;
  value: string;
  /** Unix seconds, as Electron's cookies.set wants it. */
  expirationDate: number;
}

/** The admin key `llmsvc serve` keeps in its data dir (created on first start, mode 0600). */
export function readAdminKey(dataDir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Exchanges the admin key for a console session (POST /admin/v1/session) from the main process,
 *  so the key never enters the page; the caller puts the cookie into the window's session. */
export async function exchangeKeyForSession(serverUrl: string, key: string, fetchImpl: typeof fetch = fetch): Promise<SessionCookie> {
  const response = await fetchImpl(new URL('/admin/v1/session', serverUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(`Signing in to ${serverUrl} failed (HTTP ${response.status}): ${body?.error?.message ?? 'no message'}`);
  }
  const header = response.headers.get('set-cookie');
  const match = header ? /^([^=]+)=([^;]*)/.exec(header) : null;
  const maxAge = header ? /Max-Age=(\d+)/i.exec(header) : null;
  if (!match || !maxAge) throw new Error(`${serverUrl} answered the sign-in without a session cookie; is it an llmsvc server?`);
  return { name: match[1]!, value: match[2]!, expirationDate: Math.floor(Date.now() / 1000) + Number(maxAge[1]) };
}
