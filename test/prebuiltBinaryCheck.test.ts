import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlamaCompletion } from 'node-llama-cpp';
import { LlamaRuntime } from '../core/runtimes/index.js';
import { findPrebuiltBinaries } from '../core/runtimes/llama/fastAddon.js';
import { tinyModelPath } from './support/server.js';

const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

/** A runtime on the prebuilt addon (no fast addon dir) remembering its binary test in `recordFile`. */
async function loadRuntime(recordFile: string) {
  const noFastAddon = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-no-fast-addon-'));
  const warnings: string[] = [];
  const runtime = new LlamaRuntime({ gpu: false, fastAddonDir: noFastAddon, binaryCheckFile: recordFile, onLog: (level, message) => level !== 'info' && warnings.push(message) });
  const llama = await runtime.llama();
  return { runtime, llama, warnings };
}

async function completeGreedily(runtime: LlamaRuntime): Promise<string> {
  const llama = await runtime.llama();
  const model = await llama.loadModel({ modelPath: tinyModelPath });
  try {
    const context = await model.createContext({ contextSize: 128 });
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    return await completion.generateCompletion('Once upon a time', { maxTokens: 8, temperature: 0 });
  } finally {
    await model.dispose();
  }
}

describe('prebuilt binary test: remembered across starts', { skip: !onLinuxX64 && 'the remembered test covers linux-x64 only' }, () => {
  it('tests on the first start, skips the test on the next, and generates the same tokens either way', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-binary-check-'));
    const recordFile = path.join(dir, 'runtime', 'llama-binary-check.json');
    try {
      const first = await loadRuntime(recordFile);
      assert.equal(first.runtime.loadedBy, 'getLlama');
      const tested = await completeGreedily(first.runtime);
      await first.runtime.dispose();
      const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { fingerprint: string; bindingPath: string };
      assert.match(record.fingerprint, /^[0-9a-f]{64}$/);
      assert.ok(fs.existsSync(record.bindingPath), record.bindingPath);

      const second = await loadRuntime(recordFile);
      assert.equal(second.runtime.loadedBy, 'remembered-binary-test');
      assert.equal(second.llama.gpu, false);
      assert.equal(await completeGreedily(second.runtime), tested);
      assert.deepEqual(second.warnings, []);
      await second.runtime.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tests again when anything it depends on differs, and remembers the new pass', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-binary-check-'));
    const recordFile = path.join(dir, 'llama-binary-check.json');
    try {
      const bindingPath = path.join(findPrebuiltBinaries().dir, 'llama-addon.node');
      fs.writeFileSync(recordFile, JSON.stringify({ fingerprint: '0'.repeat(64), bindingPath, passedAt: '2026-01-01T00:00:00.000Z' }));
      const { runtime } = await loadRuntime(recordFile);
      assert.equal(runtime.loadedBy, 'getLlama');
      await runtime.dispose();
      assert.notEqual((JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { fingerprint: string }).fingerprint, '0'.repeat(64));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a record it cannot read or write only means testing each start, with one warning', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-binary-check-'));
    // A file where the record's folder should be: unreadable, and unwritable even as root.
    fs.writeFileSync(path.join(dir, 'runtime'), 'not a folder');
    const recordFile = path.join(dir, 'runtime', 'llama-binary-check.json');
    try {
      const { runtime, warnings } = await loadRuntime(recordFile);
      assert.equal(runtime.loadedBy, 'getLlama');
      await runtime.dispose();
      assert.equal(warnings.filter((line) => line.includes('binary test')).length, 1, warnings.join('\n'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
