import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type ConfigInput } from '../../core/config/index.js';
import { Service } from '../../core/service.js';
import { SqliteStore, type Db, type Store } from '../../core/store/index.js';

/** The shared test models (read-only); LLMSVC_TEST_MODELS_DIR overrides the path. */
export const testModelsDir = path.resolve(process.env.LLMSVC_TEST_MODELS_DIR ?? path.resolve(import.meta.dirname, '../../../shared/models'));
export const tinyModelId = 'llama-2-tiny-random';
export const tinyModelPath = path.join(testModelsDir, `${tinyModelId}.gguf`);

/** The admin key every test server is started with. */
export const testAdminKey = 'sk-llmsvc-test-admin-key-0123456789';

/** fetch with the test admin key, as the SDKs send it. */
export function authedFetch(url: string, init: RequestInit = {}, key = testAdminKey): Promise<Response> {
  return fetch(url, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers as Record<string, string> | undefined) } });
}

export function tempDir(prefix = 'llmsvc-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestServer {
  service: Service;
  url: string;
  dataDir: string;
  /** Every log line the server wrote, as text. */
  logs(): string;
  stop(): Promise<void>;
}

/** A real server on port 0 with a temporary data dir and the shared test models. */
export async function startTestServer(
  settings: Partial<ConfigInput> = {},
  env: NodeJS.ProcessEnv = {},
  options: { clock?: () => number; runtimeReadyAfter?: Promise<void> } = {},
): Promise<TestServer> {
  const dataDir = tempDir();
  const lines: string[] = [];
  const logDestination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const config = loadConfig({
    env,
    // The response cache is off unless a test turns it on: most tests repeat deterministic
    // requests to watch the model work.
    flags: { port: 0, data_dir: dataDir, models_dir: testModelsDir, threads: 1, log_level: 'info', admin_key: testAdminKey, cache: false, ...settings },
  });
  const service = await Service.start(config, { logDestination, clock: options.clock, runtimeReadyAfter: options.runtimeReadyAfter });
  await service.metrics.registry.metrics(); // warm prom-client before timing-sensitive tests
  return {
    service,
    url: service.url,
    dataDir,
    logs: () => lines.join(''),
    stop: async () => {
      await service.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The SQLite file behind a server's store, for tests that look at rows directly. */
export function sqliteDbOf(store: Store): Db {
  if (!(store instanceof SqliteStore)) throw new Error(`this test reads SQLite rows, but the store is on ${store.engine}`);
  return store.db;
}
