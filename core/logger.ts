import pino, { type DestinationStream, type Logger } from 'pino';

/** Paths that may hold a secret. Fastify's request serializer logs no headers; this is the
 *  safety net for anything that logs a request, a config or an error carrying one. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.api_key',
  '*.apiKey',
  '*.authorization',
  '*.password',
  '*.secret',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'llmsvc' },
      redact: { paths: redactedPaths, censor: '[redacted]' },
    },
    destination ?? pino.destination(1),
  );
}

/** The destination for `llmsvc serve`'s log (stderr by default): asynchronous, so a log line costs
 *  the request path a buffer append, not a write(2) — and a slow reader of the pipe (a journal, a
 *  terminal, a supervisor) never blocks the event loop. Pino flushes it synchronously at exit,
 *  including process.exit() after Service.stop(); only a kill -9 can lose the last lines. */
export function asyncLogDestination(fd = 2): DestinationStream {
  return pino.destination({ dest: fd, sync: false });
}
