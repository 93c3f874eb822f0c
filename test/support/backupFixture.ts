// What the backup tests put into a data dir before a backup, and what they check on a server
// started on the restored data dir: a key that still authenticates, a file's content, a vector
// store that answers a search, usage rows.
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { Database } from '../../core/store/sqlite.js';
import { testAdminKey, tinyModelId } from './server.js';

export interface Seeded {
  key: { id: string; secret?: string; key?: string };
  fileId: string;
  storeId: string;
}

/** A team key, a file, a vector store indexing it, and a chat completion (a usage row). */
export async function seedDataDir(url: string): Promise<Seeded> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  const key = (await (await fetch(`${url}/admin/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${testAdminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'team-a' }),
  })).json()) as Seeded['key'];
  const file = await client.files.create({ file: await toFile(Buffer.from('The blue heron nests by the quiet lake. '.repeat(40)), 'heron.txt'), purpose: 'assistants' });
  const store = await client.vectorStores.create({ name: 'birds', embedding_model: tinyModelId } as OpenAI.VectorStores.VectorStoreCreateParams);
  await client.vectorStores.files.createAndPoll(store.id, { file_id: file.id }, { pollIntervalMs: 50 });
  await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: 1 });
  await new Promise((resolve) => setTimeout(resolve, 100)); // the ledger commits once per turn
  return { key, fileId: file.id, storeId: store.id };
}

/** Asserts that the server at url (started on a restored data dir) has everything seedDataDir made. */
export async function assertRestored(url: string, seeded: Seeded): Promise<void> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  const keys = (await (await fetch(`${url}/admin/v1/keys`, { headers: { authorization: `Bearer ${testAdminKey}` } })).json()) as { data: { id: string; name: string }[] };
  assert.ok(keys.data.some((k) => k.id === seeded.key.id && k.name === 'team-a'), 'the team key is restored');
  const secret = seeded.key.secret ?? seeded.key.key;
  if (secret) {
    const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(models.status, 200, 'the restored key still authenticates');
  }
  const restoredFile = await client.files.retrieve(seeded.fileId);
  assert.equal(restoredFile.filename, 'heron.txt');
  const content = await (await client.files.content(seeded.fileId)).text();
  assert.ok(content.startsWith('The blue heron'));
  const restoredStore = await client.vectorStores.retrieve(seeded.storeId);
  assert.equal(restoredStore.file_counts.completed, 1);
  const hits = await client.vectorStores.search(seeded.storeId, { query: 'heron lake' });
  assert.ok(hits.data.length > 0, 'the restored vector store answers a search');
  const usage = (await (await fetch(`${url}/admin/v1/usage`, { headers: { authorization: `Bearer ${testAdminKey}` } })).json()) as { data: unknown[] };
  assert.ok(usage.data.length > 0, 'usage rows are restored');
}

/** Row counts of the tables a restore must bring back. */
export function tableCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return Object.fromEntries(['api_keys', 'usage_daily', 'request_log', 'files', 'vector_stores', 'vector_store_files', 'jobs'].map((t) => [t, count(t)]));
  } finally {
    db.close();
  }
}
