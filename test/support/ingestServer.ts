// A server in a child process, for tests that kill it (kill -9 mid-ingest). Prints
// "listening <url>" once it serves. LLMSVC_TEST_EMBED_DELAY_MS (read here only, never by llmsvc)
// slows every embedding call, so that a test can kill the process between two batches.
import { loadConfig } from '../../core/config/index.js';
import { WorkerLlamaProvider } from '../../core/providers/llama/worker/client.js';
import { Service } from '../../core/service.js';
import { testAdminKey, testModelsDir } from './server.js';

const delayMs = Number(process.env.LLMSVC_TEST_EMBED_DELAY_MS ?? 0);
if (delayMs > 0) {
  const embed = WorkerLlamaProvider.prototype.embed;
  WorkerLlamaProvider.prototype.embed = async function (request) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return embed.call(this, request);
  };
}

const config = loadConfig({
  env: {},
  flags: { port: 0, data_dir: process.env.LLMSVC_TEST_DATA_DIR, models_dir: testModelsDir, threads: 1, log_level: 'warn', admin_key: testAdminKey, context_size: 512 },
});
const service = await Service.start(config);
process.stdout.write(`listening ${service.url}\n`);
