import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../core/server/ids.js';

test('ids: prefix, separator and 24 base62 characters, unique, every character in use', () => {
  const ids = new Set<string>();
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const id = newId('chatcmpl');
    assert.match(id, /^chatcmpl-[A-Za-z0-9]{24}$/);
    ids.add(id);
    for (const char of id.slice(9)) seen.add(char);
  }
  assert.equal(ids.size, 20_000, 'no repeats across many refills of the random pool');
  assert.equal(seen.size, 62);
  assert.match(newId('msg', '_'), /^msg_[A-Za-z0-9]{24}$/);
});
