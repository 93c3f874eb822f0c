// The Files and Vector Stores APIs through the official openai SDK against a real server, with the
// tiny GGUF model (8-dimension embeddings) as the embedding model: upload, attach, ingestion jobs,
// search (hybrid, vector, keyword, filters), idempotency, deletion, errors, and a kill -9 mid-ingest.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { Database } from '../core/store/sqlite.js';
import OpenAI, { toFile } from 'openai';
import { SqliteVectorIndex } from '../core/store/vectors/index.js';
import { schemaErrors } from './support/openapi.js';
import { authedFetch, sqliteDbOf, startTestServer, tempDir, testAdminKey, testModelsDir, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

let server: TestServer;
let client: OpenAI;

before(async () => {
  server = await startTestServer({ context_size: 512 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(() => server.stop());

/** Small chunks, so a short text makes several. */
const smallChunks = { type: 'static' as const, static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 } };

function assertSchema(name: string, data: unknown) {
  assert.deepEqual(schemaErrors(name, data), [], `${name} must validate against OpenAI's schema`);
}

async function assertApiError(promise: Promise<unknown>, expected: { status: number; code?: string; param?: string | null }) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    assert.equal(error.status, expected.status, error.message);
    if (expected.code !== undefined) assert.equal(error.code, expected.code);
    if (expected.param !== undefined) assert.equal(error.param, expected.param);
    assert.ok(error.message.length > 20, 'the message says what to do');
    return true;
  });
}

async function upload(name: string, text: string | Buffer) {
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'assistants' });
}

/** A vector store embedded by the tiny model (`embedding_model` is llmsvc's extension). */
function createStore(name: string, extra: Record<string, unknown> = {}) {
  return client.vectorStores.create({ name, embedding_model: tinyModelId, ...extra } as OpenAI.VectorStores.VectorStoreCreateParams);
}

function attachAndPoll(storeId: string, fileId: string, attributes?: Record<string, string | number | boolean>) {
  return client.vectorStores.files.createAndPoll(storeId, { file_id: fileId, attributes, chunking_strategy: smallChunks }, { pollIntervalMs: 50 });
}

async function search(storeId: string, query: string, options: Partial<OpenAI.VectorStores.VectorStoreSearchParams> & { ranker?: string } = {}) {
  const { ranker, ...rest } = options;
  const ranking = ranker ? { ranking_options: { ranker } as unknown as OpenAI.VectorStores.VectorStoreSearchParams.RankingOptions } : {};
  const page = await client.vectorStores.search(storeId, { query, ...ranking, ...rest });
  return page.data;
}

const filler = (topic: string, words: number) => Array.from({ length: words }, (_, i) => `${topic} note ${i} about ordinary things`).join('. ');

describe('files', () => {
  test('upload, list, retrieve, download and delete; objects in OpenAI shape', async () => {
    const file = await upload('hello.txt', 'Hello, files API.');
    assert.match(file.id, /^file-/);
    assert.equal(file.bytes, 17);
    assert.equal(file.filename, 'hello.txt');
    assert.equal(file.purpose, 'assistants');
    assertSchema('OpenAIFile', file);
    assert.ok((await client.files.list()).data.some((f) => f.id === file.id));
    assertSchema('ListFilesResponse', await (await authedFetch(`${server.url}/v1/files`)).json());
    assert.equal((await client.files.retrieve(file.id)).filename, 'hello.txt');
    assert.equal(await (await client.files.content(file.id)).text(), 'Hello, files API.');
    const deleted = await client.files.delete(file.id);
    assert.deepEqual(deleted, { id: file.id, object: 'file', deleted: true });
    await assertApiError(client.files.retrieve(file.id), { status: 404, code: 'not_found' });
  });

  test('an empty file is a 400 at upload, as at OpenAI', async () => {
    await assertApiError(upload('empty.txt', ''), { status: 400, param: 'file' });
  });
});

describe('vector stores', () => {
  test('create, attach, poll until completed, search with filters; objects validate', async () => {
    const store = await createStore('docs', { metadata: { team: 'search' } });
    assert.match(store.id, /^vs_/);
    assertSchema('VectorStoreObject', store);
    assert.deepEqual(store.file_counts, { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 });

    const alpha = await upload('alpha.md', `# Alpha\n\n${filler('alpha', 30)}. The quokka lives on Rottnest Island.`);
    const beta = await upload('beta.txt', `${filler('beta', 30)}. Beta mentions the quokka too, in 2024.`);
    const attachedAlpha = await attachAndPoll(store.id, alpha.id, { category: 'animals', year: 2023 });
    const attachedBeta = await attachAndPoll(store.id, beta.id, { category: 'notes', year: 2024 });
    for (const attached of [attachedAlpha, attachedBeta]) {
      assert.equal(attached.status, 'completed', JSON.stringify(attached.last_error));
      assert.ok(attached.usage_bytes > 0);
      assertSchema('VectorStoreFileObject', attached);
    }
    assert.deepEqual(attachedAlpha.attributes, { category: 'animals', year: 2023 });
    assert.deepEqual(attachedAlpha.chunking_strategy, smallChunks);

    const after = await client.vectorStores.retrieve(store.id);
    assert.equal(after.status, 'completed');
    assert.equal(after.file_counts.completed, 2);
    assert.equal(after.file_counts.total, 2);
    assert.ok(after.usage_bytes > 0);
    assert.ok((await client.vectorStores.files.list(store.id)).data.length === 2);
    assertSchema('ListVectorStoreFilesResponse', await (await authedFetch(`${server.url}/v1/vector_stores/${store.id}/files`)).json());

    const hits = await search(store.id, 'quokka', { max_num_results: 5 });
    assert.ok(hits.length > 0 && hits.length <= 5);
    const raw = await (
      await authedFetch(`${server.url}/v1/vector_stores/${store.id}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'quokka' }),
      })
    ).json();
    assertSchema('VectorStoreSearchResultsPage', raw);
    assert.deepEqual(raw.search_query, ['quokka']);

    const animals = await search(store.id, 'quokka', { filters: { type: 'eq', key: 'category', value: 'animals' } });
    assert.ok(animals.length > 0);
    assert.ok(animals.every((hit) => hit.file_id === alpha.id && hit.filename === 'alpha.md'));
    const recent = await search(store.id, 'quokka', {
      filters: { type: 'and', filters: [{ type: 'gte', key: 'year', value: 2024 }, { type: 'in', key: 'category', value: ['notes', 'x'] } as never] },
    });
    assert.ok(recent.length > 0 && recent.every((hit) => hit.file_id === beta.id));
    assert.deepEqual(recent[0]!.attributes, { category: 'notes', year: 2024 });
    assert.ok(recent.every((hit) => hit.content[0]!.type === 'text' && hit.content[0]!.text.length > 0));

    // Attributes change after attaching, and filters see the change.
    await client.vectorStores.files.update(beta.id, { vector_store_id: store.id, attributes: { category: 'animals', year: 2024 } });
    const nowAnimals = await search(store.id, 'quokka', { filters: { type: 'eq', key: 'category', value: 'animals' }, max_num_results: 50 });
    assert.deepEqual(new Set(nowAnimals.map((hit) => hit.file_id)), new Set([alpha.id, beta.id]));

    // A threshold above every score leaves nothing.
    assert.deepEqual(await search(store.id, 'quokka', { ranking_options: { score_threshold: 1 } }), []);

    const updated = await client.vectorStores.update(store.id, { name: 'renamed', metadata: { team: 'x' } });
    assert.equal(updated.name, 'renamed');
    assert.deepEqual(updated.metadata, { team: 'x' });
    assert.ok((await client.vectorStores.list()).data.some((s) => s.id === store.id));
  });

  test('a quantized, partitioned store (llmsvc extension) finds the same best file; a bad combination is a 400', async () => {
    const store = await createStore('quantized', { quantization: 'int8', partitioning: 'ivf' });
    const file = await upload('q.txt', `${filler('quantized', 10)}. The turbine blade alloy is Inconel 718.`);
    await attachAndPoll(store.id, file.id);
    const hits = await search(store.id, 'turbine blade alloy', { ranker: 'vector' });
    assert.equal(hits[0]?.file_id, file.id);
    await assertApiError(createStore('bad', { quantization: 'none', partitioning: 'ivf' }), { status: 400, param: 'partitioning' });
  });

  test('hybrid search: BM25 puts the one chunk with a rare keyword first; vector-only ranks by embedding', async () => {
    const store = await createStore('hybrid');
    const texts = ['apples and pears grow in orchards', 'the river runs to the sea', 'zyxomorph is a rare keyword here', 'mountains are tall and old', 'the market sells bread'];
    for (const [i, text] of texts.entries()) {
      const file = await upload(`doc${i}.txt`, text);
      assert.equal((await attachAndPoll(store.id, file.id)).status, 'completed');
    }
    const keyword = await search(store.id, 'zyxomorph', { ranker: 'keyword' });
    assert.deepEqual(keyword.map((hit) => hit.content[0]!.text), [texts[2]]);
    const hybrid = await search(store.id, 'zyxomorph', { ranker: 'hybrid' });
    assert.equal(hybrid[0]!.content[0]!.text, texts[2]);
    assert.equal((await search(store.id, 'zyxomorph'))[0]!.content[0]!.text, texts[2], 'hybrid is the default');
    // Vector-only search knows no keywords: every chunk is a neighbour, in embedding order.
    const vector = await search(store.id, 'zyxomorph', { ranker: 'vector' });
    assert.equal(vector.length, texts.length);
    assert.ok(vector.every((hit, i) => i === 0 || hit.score <= vector[i - 1]!.score));
  });

  test('the same content is indexed once per store; detaching and deleting remove chunks', async () => {
    const store = await createStore('dedupe');
    const index = new SqliteVectorIndex(sqliteDbOf(server.service.store));
    const text = filler('dup', 40);
    const first = await upload('one.txt', text);
    assert.equal((await attachAndPoll(store.id, first.id)).status, 'completed');
    const chunks = index.chunkCount(store.id);
    assert.ok(chunks > 1);
    // Attaching the same file again returns it as it is.
    const again = await client.vectorStores.files.create(store.id, { file_id: first.id });
    assert.equal(again.status, 'completed');
    // Another file with the same bytes: completed at once, no new chunks.
    const copy = await upload('copy.txt', text);
    const attachedCopy = await client.vectorStores.files.create(store.id, { file_id: copy.id, chunking_strategy: smallChunks });
    assert.equal(attachedCopy.status, 'completed');
    assert.equal(index.chunkCount(store.id), chunks);
    assert.equal((await client.vectorStores.retrieve(store.id)).file_counts.completed, 2);

    // Detaching the original re-indexes the copy in its place.
    const detached = await client.vectorStores.files.delete(first.id, { vector_store_id: store.id });
    assert.deepEqual(detached, { id: first.id, object: 'vector_store.file.deleted', deleted: true });
    const copyAfter = await client.vectorStores.files.poll(store.id, copy.id, { pollIntervalMs: 50 });
    assert.equal(copyAfter.status, 'completed');
    assert.equal(index.chunkCount(store.id), chunks);
    const hits = await search(store.id, 'dup note', { ranker: 'keyword' });
    assert.ok(hits.length > 0 && hits.every((hit) => hit.file_id === copy.id));

    // Deleting the file (Files API) takes it out of the store.
    await client.files.delete(copy.id);
    assert.equal(index.chunkCount(store.id), 0);
    assert.equal((await client.vectorStores.retrieve(store.id)).file_counts.total, 0);

    const deleted = await client.vectorStores.delete(store.id);
    assert.deepEqual(deleted, { id: store.id, object: 'vector_store.deleted', deleted: true });
    await assertApiError(client.vectorStores.retrieve(store.id), { status: 404, code: 'not_found' });
  });

  test('bad inputs are clear 4xx errors; unreadable content fails the file with last_error', async () => {
    await assertApiError(client.vectorStores.retrieve('vs_nope'), { status: 404, code: 'not_found' });
    await assertApiError(client.vectorStores.search('vs_nope', { query: 'x' }), { status: 404 });
    const store = await createStore('errors');
    await assertApiError(client.vectorStores.files.create(store.id, { file_id: 'file-nope' }), { status: 404, param: 'file_id' });
    await assertApiError(client.vectorStores.files.retrieve('file-nope', { vector_store_id: store.id }), { status: 404 });
    const binary = await upload('program.exe', Buffer.from([0x4d, 0x5a, 0x90, 0x00]));
    await assertApiError(client.vectorStores.files.create(store.id, { file_id: binary.id }), { status: 400, param: 'file_id' });
    const notText = await upload('broken.txt', Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    const failed = await attachAndPoll(store.id, notText.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.last_error?.code, 'invalid_file');
    assertSchema('VectorStoreFileObject', failed);
    assert.equal((await client.vectorStores.retrieve(store.id)).file_counts.failed, 1);

    await assertApiError(createStore('bad', { dimensions: 16 }), { status: 400, param: 'dimensions' });
    await assertApiError(createStore('bad', { embedding_model: 'no-such-model' }), { status: 404 });
    await assertApiError(search(store.id, 'x', { filters: { type: 'gt', key: 'year', value: true } }), { status: 400, param: 'filters' });
    await assertApiError(search(store.id, 'x', { filters: { type: 'in', key: 'year', value: 3 } as never }), { status: 400, param: 'filters' });
    await assertApiError(search(store.id, 'x', { max_num_results: 51 }), { status: 400, param: 'max_num_results' });
    await assertApiError(search(store.id, 'x', { ranker: 'magic' }), { status: 400, param: 'ranking_options.ranker' });
  });
});

describe('retrieval-augmented chat (the `retrieval` extension)', () => {
  type Citation = { index: number; vector_store_id: string; file_id: string; filename: string; chunk_index: number; score: number; text: string };

  test('the answer cites the chunks it was given: store, file, chunk and score, streamed too', async () => {
    const store = await createStore('rag-chat');
    const manual = await upload('manual.md', `${filler('general', 30)}. The reset code for the XR-7731 router is 4455.`);
    await attachAndPoll(store.id, manual.id);
    const question = [{ role: 'user' as const, content: 'What is the reset code for the XR-7731 router?' }];
    const retrieval = { vector_store_ids: [store.id], max_num_results: 2, ranking_options: { ranker: 'hybrid' } };

    const plain = await client.chat.completions.create({ model: tinyModelId, messages: question, max_tokens: 4, temperature: 0 });
    const grounded = (await client.chat.completions.create({ model: tinyModelId, messages: question, max_tokens: 4, temperature: 0, retrieval } as never)) as OpenAI.ChatCompletion & { citations: Citation[] };
    assertSchema('CreateChatCompletionResponse', grounded);
    assert.ok(grounded.citations.length >= 1 && grounded.citations.length <= 2);
    const first = grounded.citations[0]!;
    assert.equal(first.index, 1);
    assert.equal(first.vector_store_id, store.id);
    assert.equal(first.file_id, manual.id);
    assert.equal(first.filename, 'manual.md');
    assert.ok(Number.isInteger(first.chunk_index) && first.score > 0 && first.score <= 1);
    assert.match(first.text, /XR-7731/, 'the keyword chunk ranks first');
    assert.ok(grounded.usage!.prompt_tokens > plain.usage!.prompt_tokens + 10, 'the sources are part of the prompt');

    const stream = await client.chat.completions.create({ model: tinyModelId, messages: question, max_tokens: 4, stream: true, retrieval } as never);
    const chunks: (OpenAI.ChatCompletionChunk & { citations?: Citation[] })[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) chunks.push(chunk);
    assert.deepEqual(chunks[0]!.citations, grounded.citations, 'the first chunk carries the citations');
    assert.ok(chunks.slice(1).every((chunk) => chunk.citations === undefined), 'only the first');
  });

  test('an unknown store is a 404; a question without user text is a 400', async () => {
    const ask = (messages: OpenAI.ChatCompletionMessageParam[], ids = ['vs_missing']) =>
      client.chat.completions.create({ model: tinyModelId, messages, max_tokens: 2, retrieval: { vector_store_ids: ids } } as never);
    await assertApiError(ask([{ role: 'user', content: 'hello' }]), { status: 404, code: 'not_found' });
    await assertApiError(ask([{ role: 'user', content: 'hello' }], []), { status: 400, param: 'retrieval.vector_store_ids' });
    const store = await createStore('rag-empty');
    await assertApiError(ask([{ role: 'system', content: 'only system' }], [store.id]), { status: 400, param: 'messages' });
  });
});

describe('durable ingestion', () => {
  const harness = path.resolve(import.meta.dirname, 'support/ingestServer.ts');

  function startChild(dataDir: string, embedDelayMs: number): Promise<{ child: ChildProcess; client: OpenAI }> {
    const child = spawn(process.execPath, ['--import', 'tsx', harness], {
      env: { ...process.env, LLMSVC_TEST_DATA_DIR: dataDir, LLMSVC_TEST_EMBED_DELAY_MS: String(embedDelayMs) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the server exited with ${code} before listening`)));
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /^listening (\S+)$/.exec(line);
        if (match) resolve({ child, client: new OpenAI({ baseURL: `${match[1]}/v1`, apiKey: testAdminKey, maxRetries: 0 }) });
      });
    });
  }

  test('kill -9 mid-ingest: the job resumes after restart and completes; nothing half-indexed is searchable', async () => {
    const dataDir = tempDir();
    const first = await startChild(dataDir, 300);
    let second: Awaited<ReturnType<typeof startChild>> | undefined;
    try {
      const store = await first.client.vectorStores.create({ name: 'crash', embedding_model: tinyModelId } as OpenAI.VectorStores.VectorStoreCreateParams);
      const text = filler('crashword', 300); // ~50 small chunks: several batches of 16
      const file = await first.client.files.create({ file: await toFile(Buffer.from(text), 'big.txt'), purpose: 'assistants' });
      await first.client.vectorStores.files.create(store.id, { file_id: file.id, chunking_strategy: smallChunks });

      const db = new Database(path.join(dataDir, 'llmsvc.sqlite'), { readonly: true });
      const job = () => db.prepare("SELECT * FROM jobs WHERE kind = 'vector_store.file.ingest'").get() as { state: string; attempts: number; progress_done: number; progress_total: number };
      assert.ok(await waitFor(() => job()?.progress_done > 0, 60_000), 'the first batch is embedded');
      const before = job();
      assert.ok(before.progress_done < before.progress_total, 'killed mid-file');
      // Mid-ingest, the file's chunks are not searchable.
      assert.deepEqual((await first.client.vectorStores.search(store.id, { query: 'crashword', ranking_options: { ranker: 'keyword' as never } })).data, []);
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      assert.equal(job().state, 'running', 'left running by the dead process');

      second = await startChild(dataDir, 0);
      const done = await second.client.vectorStores.files.poll(store.id, file.id, { pollIntervalMs: 100 });
      assert.equal(done.status, 'completed', JSON.stringify(done.last_error));
      const after = job();
      assert.equal(after.state, 'done');
      assert.equal(after.attempts, 2);
      assert.equal(after.progress_done, after.progress_total);
      const hits = await second.client.vectorStores.search(store.id, { query: 'crashword', ranking_options: { ranker: 'keyword' as never }, max_num_results: 50 });
      assert.equal(hits.data.length, after.progress_total, 'every chunk once, none twice');
      db.close();
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      if (second) await new Promise((resolve) => second!.child.once('exit', resolve));
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('llmsvc rag', () => {
  const cli = path.resolve(import.meta.dirname, '../apps/cli/main.ts');
  const rag = (args: string[], dataDir: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', cli, 'rag', ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 120_000 });

  test('ingest walks a directory into a new store, skips what it cannot read, and re-runs skip unchanged files', () => {
    const dir = tempDir();
    try {
      fs.mkdirSync(path.join(dir, 'docs/sub'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'docs/a.md'), '# A\n\nThe quokka is a small marsupial.');
      fs.writeFileSync(path.join(dir, 'docs/sub/b.html'), '<p>Rottnest Island</p>');
      fs.writeFileSync(path.join(dir, 'docs/program.exe'), 'MZ');
      const dataDir = path.join(dir, 'data');
      const first = rag(['ingest', path.join(dir, 'docs'), '--store', 'notes', '--models-dir', testModelsDir, '--embedding-model', tinyModelId, '--json'], dataDir);
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stderr, /skipped \(type not supported\): .*program\.exe/);
      assert.match(first.stderr, /100%/);
      assert.deepEqual({ ...JSON.parse(first.stdout), vector_store_id: undefined }, { vector_store_id: undefined, name: 'notes', indexed: 2, failed: 0, unchanged: 0 });
      const again = rag(['ingest', path.join(dir, 'docs'), '--store', 'notes', '--models-dir', testModelsDir, '--json'], dataDir);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).unchanged, 2);
      const stores = rag(['stores', '--json'], dataDir);
      assert.equal(stores.status, 0, stores.stderr);
      const [listed] = JSON.parse(stores.stdout);
      assert.equal(listed.name, 'notes');
      assert.equal(listed.completed, 2);
      assert.equal(listed.embedding_model, tinyModelId);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
