// The offline bundle end to end, as on an air-gapped machine: every install step runs inside
// `unshare --net --mount` (no network but loopback) with the system node hidden under a bind
// mount of /dev/null, so only the bundled Node.js can run llmsvc. One bundle is created (from this
// checkout's dist: build it first with `npx tsc -p tsconfig.json`) and shared by every case;
// creating one takes about a minute and is ~400 MB, so these cases are the slow part of the suite.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Database } from '../core/store/sqlite.js';
import { cliPath, runCli } from './support/cli.js';
import { tempDir, tinyModelPath } from './support/server.js';

const canUnshare = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('unshare', ['--net', '--mount', 'true']).status === 0;
const skip = canUnshare ? false : 'needs root and unshare(1) on Linux';
const work = tempDir('llmsvc-bundle-');
const bundleFile = path.join(work, 'llmsvc.tar');
const extracted = path.join(work, 'x1');
const prefix = path.join(work, 'prefix');
const dataDir = path.join(work, 'data');
let bundleDir = '';
let version = '';

/** The built CLI with room for a full pass over the bundle on a busy machine (runCli allows 60 s). */
function cliLong(args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 300_000 });
}

/** Runs a bash script in a new network and mount namespace, with the system node hidden. */
function airGapped(script: string, timeout = 240_000) {
  const full = `set -eu
ip link set lo up
NODE_PATH_ON_HOST=$(command -v node || true)
if [ -n "$NODE_PATH_ON_HOST" ]; then mount --bind /dev/null "$NODE_PATH_ON_HOST"; fi
if node --version >/dev/null 2>&1; then echo "system node still runs" >&2; exit 99; fi
${script}`;
  const result = spawnSync('unshare', ['--net', '--mount', 'bash', '-c', full], { encoding: 'utf8', timeout });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, all: `${result.stdout}\n${result.stderr}` };
}

/** Starts bin/llmsvc serve on a free port, asks for one chat completion with the admin key from
 *  the data dir, prints the answer's JSON, stops the server. */
const serveAndChat = `
"${prefix}/bin/llmsvc" serve --port 0 --threads 1 --context-size 256 --log-level warn > "${work}/serve.out" 2> "${work}/serve.err" &
PID=$!
for i in $(seq 1 300); do grep -q 'listening on' "${work}/serve.out" 2>/dev/null && break; sleep 0.2; done
URL=$(sed -n 's/^llmsvc listening on //p' "${work}/serve.out")
[ -n "$URL" ] || { cat "${work}/serve.err" >&2; exit 98; }
curl -sS --fail-with-body "$URL/v1/chat/completions" -H "authorization: Bearer $(cat "${dataDir}/admin.key")" -H 'content-type: application/json' \\
  -d '{"model":"llama-2-tiny-random","messages":[{"role":"user","content":"hello"}],"max_tokens":4,"seed":1,"temperature":0}'
echo
kill -TERM $PID; wait $PID || true
`;

before(async () => {
  if (skip) return;
  const models = path.join(work, 'models');
  fs.mkdirSync(models);
  fs.copyFileSync(tinyModelPath, path.join(models, 'llama-2-tiny-random.gguf'));
  const keygen = runCli(['bundle', 'keygen', '--private-key', path.join(work, 'sign.key'), '--public-key', path.join(work, 'sign.pub')]);
  assert.equal(keygen.status, 0, keygen.stderr);
  assert.equal((fs.statSync(path.join(work, 'sign.key')).mode & 0o777).toString(8), '600');
  const started = Date.now();
  const created = spawnSync(process.execPath, [
    path.resolve(import.meta.dirname, '../dist/apps/cli/main.js'), 'bundle', 'create', '--out', bundleFile, '--models-dir', models, '--all-models',
    '--no-gpu', '--sign-key', path.join(work, 'sign.key'), '--json',
  ], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(created.status, 0, created.stderr);
  const result = JSON.parse(created.stdout) as { bytes: number; files: number; version: string; models: string[] };
  version = result.version;
  assert.deepEqual(result.models, ['llama-2-tiny-random']);
  process.stderr.write(`# bundle: ${(result.bytes / 2 ** 20).toFixed(0)} MiB, ${result.files} files, created in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  fs.mkdirSync(extracted);
  execFileSync('tar', ['xf', bundleFile, '-C', extracted]);
  bundleDir = path.join(extracted, fs.readdirSync(extracted)[0]!);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A line found only in dist/apps/cli/main.js: the byte the tamper tests change. */
const mainJsMarker = 'const fromSources = import.meta.url.endsWith';

test('bundle verify: the signed bundle passes; a wrong key or one changed byte fails, naming the file', { skip }, () => {
  // The start-up bundles travel with their manifests (without one, a bundle is not used).
  for (const dir of ['cli-bundle', 'runtime-bundle']) assert.ok(fs.existsSync(path.join(bundleDir, 'app', 'dist', dir, 'startup-bundle.json')), dir);
  const ok = cliLong(['bundle', 'verify', bundleFile, '--public-key', path.join(work, 'sign.pub'), '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { ok: boolean; signed: boolean }).signed, true);

  const otherKey = path.join(work, 'other');
  runCli(['bundle', 'keygen', '--private-key', `${otherKey}.key`, '--public-key', `${otherKey}.pub`]);

  // One byte inside llmsvc's own code, changed in the tar itself (and changed back afterwards).
  const at = fs.readFileSync(bundleFile).indexOf(mainJsMarker);
  assert.ok(at > 0);
  const flip = () => {
    const fd = fs.openSync(bundleFile, 'r+');
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, at);
    byte[0] ^= 0x20;
    fs.writeSync(fd, byte, 0, 1, at);
    fs.closeSync(fd);
  };
  flip();
  try {
    // One pass for both faults (each pass reads the whole ~390 MB): every problem is listed.
    const bad = cliLong(['bundle', 'verify', bundleFile, '--public-key', `${otherKey}.pub`]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /app\/dist\/apps\/cli\/main\.js: SHA-256 does not match the manifest/);
    assert.match(bad.stderr, /manifest\.sig: the signature does not match/);
    assert.equal(bad.stderr.match(/^ {2}/gm)?.length, 2, `exactly the two faults: ${bad.stderr}`);
  } finally {
    flip();
  }
});

test('install.sh refuses an extracted bundle with one changed byte and installs nothing', { skip }, () => {
  const file = path.join(bundleDir, 'app', 'dist', 'apps', 'cli', 'main.js');
  const original = fs.readFileSync(file);
  const changed = Buffer.from(original);
  changed[changed.indexOf(mainJsMarker)] ^= 0x20;
  fs.writeFileSync(file, changed);
  try {
    const run = airGapped(`"${bundleDir}/install.sh" --prefix "${work}/refused" --data-dir "${work}/refused-data" --no-service`);
    assert.notEqual(run.status, 0, run.all);
    assert.match(run.all, /app\/dist\/apps\/cli\/main\.js: FAILED/, 'sha256sum names the file before any bundled code runs');
    assert.match(run.all, /fails verification .*nothing was installed/);
    assert.ok(!fs.existsSync(path.join(work, 'refused', 'current')));
  } finally {
    fs.writeFileSync(file, original);
  }
});

test('air-gapped: install.sh from the bundle, serve, a chat completion; upgrade keeps the data; rollback; a newer database refuses the downgrade', { skip }, () => {
  const install = airGapped(`"${bundleDir}/install.sh" --prefix "${prefix}" --data-dir "${dataDir}" --no-service --public-key "${work}/sign.pub"
${serveAndChat}
"${prefix}/bin/llmsvc" keys create --name team-a --json`);
  assert.equal(install.status, 0, install.all);
  assert.match(install.stdout, /Installed llmsvc .* in .*Next steps:/s);
  assert.match(install.stdout, /"object":\s*"chat\.completion"/);
  assert.equal(fs.readlinkSync(path.join(prefix, 'current')), `versions/${version}`);
  assert.equal((fs.statSync(dataDir).mode & 0o777).toString(8), '700');
  assert.equal((fs.statSync(path.join(dataDir, 'admin.key')).mode & 0o777).toString(8), '600');
  assert.ok(fs.existsSync(path.join(dataDir, 'models', 'llama-2-tiny-random.gguf')));
  const adminKey = fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8');

  // Idempotent: the same bundle again changes nothing.
  const again = airGapped(`"${bundleDir}/install.sh" --prefix "${prefix}" --data-dir "${dataDir}" --no-service`);
  assert.equal(again.status, 0, again.all);
  assert.match(again.stdout, /is already in/);
  assert.ok(!fs.existsSync(path.join(prefix, 'previous')));

  // A newer release: the same build relabelled (a second 400 MB bundle would double the test's time).
  const newer = path.join(work, 'x2', path.basename(bundleDir));
  fs.mkdirSync(path.dirname(newer));
  execFileSync('cp', ['-al', bundleDir, newer]);
  const manifestFile = path.join(newer, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { version: string };
  fs.rmSync(manifestFile);
  fs.rmSync(path.join(newer, 'manifest.sig'));
  fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, version: '99.0.0' }, null, 2));
  const upgrade = airGapped(`"${newer}/install.sh" --prefix "${prefix}" --data-dir "${dataDir}" --no-service
${serveAndChat}
"${prefix}/bin/llmsvc" keys list --json`);
  assert.equal(upgrade.status, 0, upgrade.all);
  assert.equal(fs.readlinkSync(path.join(prefix, 'current')), 'versions/99.0.0');
  assert.equal(fs.readlinkSync(path.join(prefix, 'previous')), `versions/${version}`);
  assert.match(upgrade.stdout, /"object":\s*"chat\.completion"/);
  assert.match(upgrade.stdout, /team-a/, 'the key made before the upgrade is kept');
  assert.equal(fs.readFileSync(path.join(dataDir, 'admin.key'), 'utf8'), adminKey, 'the admin key is kept');

  const rollback = airGapped(`"${bundleDir}/install.sh" --prefix "${prefix}" --data-dir "${dataDir}" --rollback
${serveAndChat}`);
  assert.equal(rollback.status, 0, rollback.all);
  assert.match(rollback.stdout, new RegExp(`Rolled back from llmsvc 99\\.0\\.0 to ${version.replace(/\./g, '\\.')}`));
  assert.equal(fs.readlinkSync(path.join(prefix, 'current')), `versions/${version}`);
  assert.match(rollback.stdout, /"object":\s*"chat\.completion"/);

  // The database now claims a schema newer than the installed code: back to 99.0.0 is fine,
  // but installing (or rolling back to) an llmsvc that does not know that schema is refused.
  const db = new Database(path.join(dataDir, 'llmsvc.sqlite'));
  const schema = db.pragma('user_version', { simple: true }) as number;
  db.pragma('user_version = 999');
  db.close();
  try {
    const downgrade = airGapped(`"${bundleDir}/install.sh" --prefix "${prefix}" --data-dir "${dataDir}" --rollback`);
    assert.notEqual(downgrade.status, 0);
    assert.match(downgrade.all, /has schema version 999, newer than this llmsvc's \d+/);
    assert.match(downgrade.all, /cannot roll back to 99\.0\.0: the database was migrated to a newer schema/);
    assert.equal(fs.readlinkSync(path.join(prefix, 'current')), `versions/${version}`, 'nothing switched');
  } finally {
    const restore = new Database(path.join(dataDir, 'llmsvc.sqlite'));
    restore.pragma(`user_version = ${schema}`);
    restore.close();
  }
});
