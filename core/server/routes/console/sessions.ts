import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { fastifyCookie } from '@fastify/cookie';
import { hashesEqual, hashSecret } from '../../../auth/secrets.js';
import type { Clock, KeyService } from '../../../auth/index.js';
import { ApiError } from '../../../errors/index.js';
import type { ApiKeyRecord } from '../../../store/index.js';

export const sessionCookie = 'llmsvc_session';
export const csrfHeader = 'x-csrf-token';
/** A console session lasts a working day; signing in again is one paste (or automatic in the desktop app). */
export const sessionTtlMs = 12 * 60 * 60 * 1000;

interface Session {
  keyId: string;
  csrfToken: string;
  expiresAt: number;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Console sign-in sessions: an admin key exchanged for a random session id held in an HttpOnly
 *  cookie, plus a CSRF token the page sends in a header on every change (synchronizer-token
 *  pattern). Only the id's hash is kept, in memory: a restart signs everyone out, which costs a
 *  sign-in and keeps no bearer credential on disk. The key is looked up again on every request,
 *  so revoking or disabling it ends its sessions at once. */
export class ConsoleSessions {
  private readonly byIdHash = new Map<string, Session>();

  constructor(
    private readonly keys: KeyService,
    private readonly clock: Clock,
  ) {}

  /** Starts a session for an admin key; returns the cookie value and the CSRF token. */
  create(key: ApiKeyRecord): { id: string; csrfToken: string; expiresAt: number } {
    this.sweep();
    const id = randomBytes(32).toString('base64url');
    const session = { keyId: key.id, csrfToken: randomBytes(32).toString('base64url'), expiresAt: this.clock() + sessionTtlMs };
    this.byIdHash.set(hashSecret(id), session);
    return { id, ...session };
  }

  /** The live session named by the request's cookie, if any. */
  find(request: FastifyRequest): (Session & { idHash: string }) | undefined {
    const header = request.headers.cookie;
    if (typeof header !== 'string') return undefined;
    const id = fastifyCookie.parse(header)[sessionCookie];
    if (!id) return undefined;
    const idHash = hashSecret(id);
    const session = this.byIdHash.get(idHash);
    if (!session) return undefined;
    if (session.expiresAt <= this.clock()) {
      this.byIdHash.delete(idHash);
      return undefined;
    }
    return { ...session, idHash };
  }

  end(idHash: string): void {
    this.byIdHash.delete(idHash);
  }

  /** Checks the CSRF header of a state-changing request against the session's token. */
  checkCsrf(request: FastifyRequest, session: Session): void {
    if (safeMethods.has(request.method)) return;
    const sent = request.headers[csrfHeader];
    if (typeof sent !== 'string' || !hashesEqual(hashSecret(sent), hashSecret(session.csrfToken))) {
      throw new ApiError(
        'LLMSVC_ERR_CSRF_TOKEN_INVALID',
        `This ${request.method} came with the console's session cookie but without its CSRF token in the '${csrfHeader}' header. Reload the console (it fetches the token from GET /admin/v1/session) and try again.`,
      );
    }
  }

  /** The key a request's session stands for (CSRF checked on changes), or undefined without a
   *  live session; the 401 of a revoked, disabled or expired key comes from KeyService. Used by
   *  the auth hook when the request has no API key header. */
  async authenticate(request: FastifyRequest): Promise<ApiKeyRecord | undefined> {
    const session = this.find(request);
    if (!session) return undefined;
    const key = await this.keys.get(session.keyId);
    if (key.revokedAt !== null || key.disabled || (key.expiresAt !== null && key.expiresAt <= this.clock()) || key.scope !== 'admin') {
      this.end(session.idHash);
      return undefined;
    }
    this.checkCsrf(request, session);
    return key;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [idHash, session] of this.byIdHash) if (session.expiresAt <= now) this.byIdHash.delete(idHash);
  }
}
