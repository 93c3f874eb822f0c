import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fastifyCookie } from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import { z } from 'zod';
import { AuthThrottle, formatReset, type Clock, type FailureThrottle, type KeyService } from '../../../auth/index.js';
import type { Config } from '../../../config/index.js';
import { ApiError } from '../../../errors/index.js';
import { packageVersion } from '../../packageVersion.js';
import { parseBody } from '../../validation.js';
import { routingView, serverView } from './configView.js';
import { installConsoleHeaders } from './securityHeaders.js';
import { ConsoleSessions, sessionCookie, sessionTtlMs } from './sessions.js';

export { ConsoleSessions } from './sessions.js';

export interface ConsoleDeps {
  config: Config;
  keys: KeyService;
  clock: Clock;
  sessions: ConsoleSessions;
  /** Failed authentications per address: the API's throttle, whose count the sign-in route keeps
   *  apart (see signInScope). Default: one in this process's memory. */
  throttle?: FailureThrottle;
  /** The built console (default: dist/console of the package). */
  assetsDir?: string;
}

/** The package root: the nearest folder above this module with llmsvc's package.json (the same
 *  from core/ under tsx and from dist/core/ when built). */
function packageRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'llmsvc') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return import.meta.dirname;
    dir = parent;
  }
}

/** Failed sign-ins have a count of their own per address, with the API's limit and window (the
 *  sign-in route is public to the auth hook, so the hook never counts them). */
const signInScope = 'console-sign-in:';

const signInSchema = z.object({ key: z.string().min(1) }).strict();

/** The console's own routes that need no key: its page files (the static route, or the note
 *  that they are not built), the /admin redirect, and sign-in. Decided by the route the request
 *  matched, not by its path, so no spelling of a path (`/admin//v1/keys`, `/admin/v1%2Fkeys`)
 *  can reach an admin route without a key. */
const publicRoutes = new Set(['/admin', '/admin/*']);
export function isConsolePublic(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (route === '/admin/v1/session') return true;
  return (request.method === 'GET' || request.method === 'HEAD') && route !== undefined && publicRoutes.has(route);
}

/** The admin web console at /admin: the built Preact app (apps/desktop/renderer, built into
 *  dist/console by `npm run build`), its sign-in sessions, and two read-only admin endpoints
 *  for its Models and Settings pages. */
export function registerConsole(app: FastifyInstance, deps: ConsoleDeps): void {
  const { config, keys, clock, sessions } = deps;
  const throttle = deps.throttle ?? new AuthThrottle(config.auth_failure_limit, clock);
  const root = packageRoot();
  const assetsDir = deps.assetsDir ?? path.join(root, 'dist', 'console');
  const version = packageVersion();
  installConsoleHeaders(app);

  app.get('/admin', (_request, reply) => reply.redirect('/admin/', 302));
  if (fs.existsSync(path.join(assetsDir, 'index.html'))) {
    void app.register(fastifyStatic, {
      root: assetsDir,
      prefix: '/admin/',
      decorateReply: false,
      preCompressed: true,
      // Hashed asset names never change content: cache them; the page itself is always fetched.
      cacheControl: false,
      setHeaders: (reply, file) => {
        void reply.header('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-store');
      },
    });
  } else {
    app.get('/admin/*', async (request, reply) => {
      if (request.url.startsWith('/admin/v1/')) return reply.callNotFound();
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send(`The admin console is not built: ${assetsDir} has no index.html.\nBuild it with 'npm run build' (tsc, then vite) in the llmsvc folder, then reload this page.\n`);
    });
  }

  function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAgeMs: number): void {
    void reply.header(
      'set-cookie',
      fastifyCookie.serialize(sessionCookie, value, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        secure: request.protocol === 'https',
        maxAge: Math.floor(maxAgeMs / 1000),
        expires: new Date(clock() + maxAgeMs),
      }),
    );
  }

  app.post('/admin/v1/session', async (request, reply) => {
    const { key: secret } = parseBody(signInSchema, request.body);
    let key;
    try {
      key = await keys.authenticate(secret);
      if (key.scope !== 'admin') throw new ApiError('LLMSVC_ERR_SCOPE_NOT_ALLOWED', `This key's scope is '${key.scope}'; the console needs an admin key (the one in <data-dir>/admin.key, or LLMSVC_ADMIN_KEY).`);
    } catch (error) {
      const waitMs = await throttle.recordFailure(signInScope + request.ip);
      if (waitMs === 0) throw error;
      throw new ApiError('LLMSVC_ERR_AUTH_THROTTLED', `Too many failed sign-ins from ${request.ip}. Retry in ${formatReset(waitMs)} with the admin key.`, null, {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      });
    }
    const session = sessions.create(key);
    setSessionCookie(request, reply, session.id, sessionTtlMs);
    return reply.status(201).send({ object: 'session', signed_in: true, key_id: key.id, csrf_token: session.csrfToken, expires_at: session.expiresAt });
  });

  // The page asks on load whether its cookie is a live session, and gets the CSRF token again (the
  // page keeps it only in memory). Same-origin only: no CORS, and the cookie is SameSite=Strict.
  app.get('/admin/v1/session', async (request) => {
    const session = sessions.find(request);
    return session
      ? { object: 'session', signed_in: true, auth: config.auth, key_id: session.keyId, csrf_token: session.csrfToken, expires_at: session.expiresAt }
      : { object: 'session', signed_in: !config.auth, auth: config.auth, csrf_token: null };
  });

  app.delete('/admin/v1/session', async (request, reply) => {
    const session = sessions.find(request);
    if (session) {
      sessions.checkCsrf(request, session);
      sessions.end(session.idHash);
    }
    setSessionCookie(request, reply, '', 0);
    return { object: 'session', signed_in: false };
  });

  app.get('/admin/v1/config/routing', async () => routingView(config));
  app.get('/admin/v1/server', async () => serverView(config, version));
}
