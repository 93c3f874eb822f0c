// A llmsvc node in its own process, for tests that kill one (test/redisLimiter.test.ts):
// LLMSVC_TEST_NODE_SETTINGS holds its config (JSON), LLMSVC_TEST_NODE_KEYS the API key records to
// install in its fresh data dir (the same keys as the other nodes, as a shared database would give).
import type { ApiKeyRecord } from '../../core/store/index.js';
import { startTestServer } from './server.js';

const server = await startTestServer(JSON.parse(process.env.LLMSVC_TEST_NODE_SETTINGS ?? '{}'));
for (const key of JSON.parse(process.env.LLMSVC_TEST_NODE_KEYS ?? '[]') as ApiKeyRecord[]) await server.service.store.apiKeys.save(key);
console.log(`node listening on ${server.url}`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
