import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, defaultThreads, loadConfig } from '../core/config/index.js';

function writeConfig(values: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-config-')), 'config.json');
  fs.writeFileSync(file, JSON.stringify(values));
  return file;
}

test('defaults: loopback, port 8080, data dir from XDG_DATA_HOME, models dir inside it', () => {
  const config = loadConfig({ env: { XDG_DATA_HOME: '/tmp/xdg' } });
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 8080);
  assert.equal(config.data_dir, '/tmp/xdg/llmsvc');
  assert.equal(config.models_dir, '/tmp/xdg/llmsvc/models');
  assert.equal(config.threads, defaultThreads());
  assert.ok(Object.isFrozen(config));
});

test('data dir falls back to ~/.local/share/llmsvc; LLMSVC_DATA_DIR overrides', () => {
  assert.equal(loadConfig({ env: {} }).data_dir, path.join(os.homedir(), '.local/share/llmsvc'));
  assert.equal(loadConfig({ env: { LLMSVC_DATA_DIR: '/srv/llm' } }).models_dir, '/srv/llm/models');
});

test('precedence: config file < env < flags', () => {
  const file = writeConfig({ port: 1111, host: '0.0.0.0', parallel: 3, log_level: 'warn' });
  const fromFile = loadConfig({ file, env: {} });
  assert.equal(fromFile.port, 1111);
  assert.equal(fromFile.parallel, 3);
  const fromEnv = loadConfig({ file, env: { LLMSVC_PORT: '2222', LLMSVC_PARALLEL: '5' } });
  assert.equal(fromEnv.port, 2222);
  assert.equal(fromEnv.parallel, 5);
  assert.equal(fromEnv.host, '0.0.0.0', 'untouched settings keep the file value');
  const fromFlags = loadConfig({ file, env: { LLMSVC_PORT: '2222' }, flags: { port: '3333', parallel: undefined } });
  assert.equal(fromFlags.port, 3333);
  assert.equal(fromFlags.parallel, 3);
  assert.equal(fromFlags.log_level, 'warn');
  // The file may also come from LLMSVC_CONFIG.
  assert.equal(loadConfig({ env: { LLMSVC_CONFIG: file } }).port, 1111);
});

test('unknown keys are an error that names the key and where it came from', () => {
  const file = writeConfig({ port: 1, prot: 2 });
  assert.throws(() => loadConfig({ file, env: {} }), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /unknown setting "prot"/);
    assert.match(error.message, /config file/);
    return true;
  });
});

test('bad values name the setting; boolean env strings parse both ways', () => {
  assert.throws(() => loadConfig({ env: { LLMSVC_PORT: 'eighty' } }), /setting "port" in environment/);
  assert.throws(() => loadConfig({ env: {}, flags: { port: 70000 } }), /setting "port" in command-line flags/);
  assert.throws(() => loadConfig({ env: { LLMSVC_LOG_PROMPTS: 'maybe' } }), /log_prompts/);
  assert.equal(loadConfig({ env: { LLMSVC_LOG_PROMPTS: 'false' } }).log_prompts, false);
  assert.equal(loadConfig({ env: { LLMSVC_LOG_PROMPTS: 'true' } }).log_prompts, true);
  assert.equal(loadConfig({ env: { LLMSVC_GPU: 'false' } }).gpu, false);
  assert.equal(loadConfig({ env: {} }).gpu, 'auto');
});

test('a config file that is not a JSON object is a clear error', () => {
  const file = writeConfig([1, 2]);
  assert.throws(() => loadConfig({ file, env: {} }), /must hold a JSON object/);
  assert.throws(() => loadConfig({ file: '/no/such/file.json', env: {} }), /Cannot read config file/);
});

test('default threads leave the event loop a core', () => {
  assert.equal(defaultThreads(1), 1);
  assert.equal(defaultThreads(2), 1);
  assert.equal(defaultThreads(8), 7);
});

test('parallel is auto unless set; per-model settings come from the file or a JSON env value', () => {
  assert.equal(loadConfig({ env: {} }).parallel, 'auto');
  assert.equal(loadConfig({ env: { LLMSVC_PARALLEL: '6' } }).parallel, 6);
  assert.throws(() => loadConfig({ env: { LLMSVC_PARALLEL: '300' } }), /at most 256/);
  const file = writeConfig({ model_settings: { 'qwen-7b': { parallel: 2, context_size: 8192 } } });
  assert.deepEqual(loadConfig({ file, env: {} }).model_settings, { 'qwen-7b': { parallel: 2, context_size: 8192 } });
  assert.deepEqual(loadConfig({ env: { LLMSVC_MODEL_SETTINGS: '{"a": {"parallel": "auto"}}' } }).model_settings, { a: { parallel: 'auto' } });
  assert.throws(() => loadConfig({ file: writeConfig({ model_settings: { a: { paralel: 2 } } }), env: {} }), /paralel/);
  assert.throws(() => loadConfig({ env: { LLMSVC_MODEL_SETTINGS: '{not json' } }), /model_settings/);
});
