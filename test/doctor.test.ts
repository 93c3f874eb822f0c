import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliPath } from './support/cli.js';
import { startTestServer, tempDir, testModelsDir, type TestServer } from './support/server.js';

interface Report {
  ok: boolean;
  checks: { name: string; status: 'ok' | 'warn' | 'fail'; message: string }[];
}

/** Runs the built CLI without blocking this process: the test server here must answer doctor's /healthz probe. */
async function doctor(args: string[]): Promise<{ status: number | null; report: Report }> {
  const child = spawn(process.execPath, [cliPath, 'doctor', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [status] = (await once(child, 'close')) as [number | null];
  assert.ok(stdout.startsWith('{'), `doctor printed JSON; stderr: ${stderr}`);
  return { status, report: JSON.parse(stdout) as Report };
}

const byName = (report: Report, name: string) => {
  const check = report.checks.find((c) => c.name === name);
  assert.ok(check, `doctor ran the '${name}' check: ${report.checks.map((c) => c.name).join(', ')}`);
  return check;
};

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());

test('doctor on a healthy data dir beside a running server: every check ok or warn, exit 0, the port seen as llmsvc', async () => {
  fs.chmodSync(server.dataDir, 0o700);
  const port = new URL(server.url).port;
  const { status, report } = await doctor(['--data-dir', server.dataDir, '--models-dir', testModelsDir, '--port', port]);
  assert.equal(status, 0, JSON.stringify(report, null, 2));
  assert.equal(report.ok, true);
  assert.deepEqual(report.checks.filter((c) => c.status === 'fail'), []);
  for (const name of ['node', 'config', 'module:better-sqlite3', 'module:sqlite-vec', 'module:node-llama-cpp', 'module:onnxruntime-node', 'llama-backend', 'memory', 'disk', 'data-dir', 'clock']) {
    assert.equal(byName(report, name).status, 'ok', name);
  }
  assert.match(byName(report, 'port').message, /in use by a running llmsvc/);
  // npm test builds first: both start-up bundles are current.
  assert.equal(byName(report, 'startup-bundles').status, 'ok', byName(report, 'startup-bundles').message);
  assert.match(byName(report, 'startup-bundles').message, /start from their bundles \(node-llama-cpp [\d.]+, bundled\)/);
  assert.match(byName(report, 'database').message, /integrity ok, schema version \d+/);
  assert.match(byName(report, 'model:llama-2-tiny-random').message, /GGUF llama, MOSTLY_F16/);
});

test('doctor on a broken data dir: damaged database, world-readable key, bad model, port taken by another program: each fails with what to do, exit 1', async () => {
  const dataDir = tempDir();
  const modelsDir = tempDir();
  try {
    fs.chmodSync(dataDir, 0o755);
    fs.writeFileSync(path.join(dataDir, 'llmsvc.sqlite'), Buffer.alloc(8192, 7));
    fs.writeFileSync(path.join(dataDir, 'admin.key'), 'sk-llmsvc-secret\n', { mode: 0o644 });
    fs.writeFileSync(path.join(modelsDir, 'broken.gguf'), 'not a gguf at all');
    // The models manifest (as `models import` writes it) disagrees with the file on disk.
    fs.writeFileSync(path.join(modelsDir, 'llmsvc-models.json'), JSON.stringify({
      format: 'llmsvc-models/1',
      models: [{ id: 'broken', kind: 'gguf', files: [{ path: 'broken.gguf', size: 17, sha256: '0'.repeat(64) }] }],
    }));
    const other = (await import('node:http')).createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = String((other.address() as { port: number }).port);
    try {
      const { status, report } = await doctor(['--data-dir', dataDir, '--models-dir', modelsDir, '--port', port]);
      assert.equal(status, 1);
      assert.equal(report.ok, false);
      assert.equal(byName(report, 'database').status, 'fail');
      assert.match(byName(report, 'database').message, /restore the last backup/);
      assert.equal(byName(report, 'admin-key').status, 'fail');
      assert.match(byName(report, 'admin-key').message, /chmod 600/);
      assert.equal(byName(report, 'data-dir').status, 'warn');
      assert.match(byName(report, 'data-dir').message, /chmod 700/);
      assert.equal(byName(report, 'model:broken').status, 'fail');
      assert.equal(byName(report, 'model-checksums').status, 'fail');
      assert.match(byName(report, 'model-checksums').message, /broken\.gguf: SHA-256 does not match/);
      assert.equal(byName(report, 'port').status, 'fail');
      assert.match(byName(report, 'port').message, /another program/);
    } finally {
      other.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(modelsDir, { recursive: true, force: true });
  }
});

test('doctor with an invalid config file fails the config check and says which setting', async () => {
  const dir = tempDir();
  try {
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ prot: 8080 }));
    const { status, report } = await doctor(['--config', config, '--data-dir', dir]);
    assert.equal(status, 1);
    assert.equal(byName(report, 'config').status, 'fail');
    assert.match(byName(report, 'config').message, /unknown setting "prot"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
