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
