import type { FastifyInstance } from 'fastify';

/** The console's Content-Security-Policy: everything from this origin, nothing inline, no frames.
 *  Preact and uPlot set element styles through the CSSOM (element.style), which style-src does
 *  not govern, so 'unsafe-inline' is not needed for styles either. */
export const consoleCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function isConsolePath(url: string): boolean {
  return url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?');
}

/** Headers on everything under /admin: the CSP and framing rules on the pages, and no-store on the
 *  admin API's answers so no admin data stays in a browser's cache. A string test per request,
 *  in a callback hook (an async one costs a promise per request). */
export function installConsoleHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (isConsolePath(request.url)) {
      void reply.headers({
        'content-security-policy': consoleCsp,
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
      });
      if (request.url.startsWith('/admin/v1/')) void reply.header('cache-control', 'no-store');
    }
    done();
  });
}
