export { buildServer, type ServerDeps } from './buildServer.js';
export type { Readiness } from './routes/health.js';
