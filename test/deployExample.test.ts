// The README's several-node example (deploy/scale-out/): the services compose.yaml starts are the
// ones node.env points the nodes at (users, database, ports, bucket), node.env loads into the
// config test/scaleOut.test.ts runs three nodes with (PostgreSQL, Redis, S3), and the systemd
// drop-in loads node.env. Docker is not available here, so compose.yaml is checked, not run.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../core/config/index.js';

const exampleDir = path.resolve(import.meta.dirname, '../deploy/scale-out');

/** KEY=VALUE lines, as systemd's EnvironmentFile reads them (no quotes used in the example). */
function readEnvFile(file: string): Record<string, string> {
  const entries = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const equals = line.indexOf('=');
      assert.ok(equals > 0, `a KEY=VALUE line: ${line}`);
      return [line.slice(0, equals), line.slice(equals + 1)] as const;
    });
  return Object.fromEntries(entries);
}

interface ComposeService {
  environment?: Record<string, string>;
  ports?: string[];
  entrypoint?: string[];
}

const compose = parse(fs.readFileSync(path.join(exampleDir, 'compose.yaml'), 'utf8')) as { services: Record<string, ComposeService> };
const nodeEnv = readEnvFile(path.join(exampleDir, 'node.env'));

test('node.env points at the services compose.yaml starts', () => {
  const { postgres, redis, minio } = compose.services;
  assert.ok(postgres && redis && minio && compose.services['minio-bucket'], 'PostgreSQL, Redis, MinIO and the bucket job');
  const database = new URL(nodeEnv.LLMSVC_DATABASE_URL!);
  assert.equal(database.username, postgres.environment!.POSTGRES_USER);
  assert.equal(database.pathname, `/${postgres.environment!.POSTGRES_DB}`);
  assert.ok(postgres.ports!.includes(`${database.port}:5432`), 'PostgreSQL published on the port of database_url');
  const redisUrl = new URL(nodeEnv.LLMSVC_REDIS_URL!);
  assert.ok(redis.ports!.includes(`${redisUrl.port}:6379`), 'Redis published on the port of redis_url');
  const storage = JSON.parse(nodeEnv.LLMSVC_STORAGE!) as { bucket: string; endpoint: string };
  assert.ok(minio.ports!.includes(`${new URL(storage.endpoint).port}:9000`), 'MinIO published on the storage endpoint port');
  assert.equal(nodeEnv.AWS_ACCESS_KEY_ID, minio.environment!.MINIO_ROOT_USER);
  assert.match(compose.services['minio-bucket']!.entrypoint!.join(' '), new RegExp(`mc mb --ignore-existing shared/${storage.bucket}\\b`), 'the bucket job creates the bucket of storage');
  // Every host in node.env is the one services host.
  assert.deepEqual(new Set([database.hostname, redisUrl.hostname, new URL(storage.endpoint).hostname]), new Set(['db.lan']));
});

test('node.env loads into a several-node config: PostgreSQL, Redis limits, S3 files, the LAN with auth on', () => {
  const config = loadConfig({ env: nodeEnv });
  assert.equal(config.database_url, nodeEnv.LLMSVC_DATABASE_URL);
  assert.equal(config.redis_url, nodeEnv.LLMSVC_REDIS_URL);
  assert.equal(config.rate_limits, 'auto', 'auto keeps the limits in Redis once redis_url is set');
  assert.deepEqual(config.storage, { type: 's3', bucket: 'llmsvc', prefix: 'files/', endpoint: 'http://db.lan:9000', region: 'us-east-1', force_path_style: true });
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.auth, true);
  assert.equal(config.admin_key, nodeEnv.LLMSVC_ADMIN_KEY);
});

test('the systemd drop-in loads node.env into the installed unit', () => {
  const dropIn = fs.readFileSync(path.join(exampleDir, 'llmsvc-node.conf'), 'utf8');
  assert.match(dropIn, /^\[Service\]$/m);
  assert.match(dropIn, /^EnvironmentFile=\/etc\/llmsvc\/node\.env$/m);
  assert.match(fs.readFileSync(path.join(exampleDir, 'node.env'), 'utf8'), /\/etc\/llmsvc\/node\.env/);
  // The unit it extends is the one install.sh installs.
  assert.match(fs.readFileSync(path.resolve(import.meta.dirname, '../installers/llmsvc.service'), 'utf8'), /^ExecStart=@PREFIX@\/bin\/llmsvc serve$/m);
});
