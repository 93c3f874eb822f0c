// The same operations on the SQLite and the PostgreSQL implementation of a store interface give
// the same results (core/store/ and core/store/postgres/): one contract, run against both engines.
// Real SQLite file, real PostgreSQL (started by the test unless LLMSVC_TEST_DATABASE_URL names one).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiKeyRepository,
  FileRepository,
  RequestLogRepository,
  ResponseRepository,
  UsageRepository,
  type ApiKeyRecord,
  type FileRecord,
  type RequestLogEntry,
  type StoredResponse,
} from '../core/store/index.js';
import type { ApiKeyStore } from '../core/store/apiKeys.js';
import type { FileStore } from '../core/store/files.js';
import type { RequestLogStore } from '../core/store/requestLog.js';
import type { ResponseStore } from '../core/store/responses.js';
import type { UsageStore } from '../core/store/usage.js';
import { PostgresApiKeyRepository } from '../core/store/postgres/apiKeys.js';
import { PostgresChangeFeed } from '../core/store/postgres/changeFeed.js';
import { PostgresFileRepository } from '../core/store/postgres/files.js';
import { PostgresRequestLogRepository } from '../core/store/postgres/requestLog.js';
import { PostgresResponseRepository } from '../core/store/postgres/responses.js';
import { PostgresUsageRepository } from '../core/store/postgres/usage.js';
import { openBothEngines, sameOnBothEngines, type BothEngines } from './support/bothEngines.js';

interface Engine {
  name: string;
  apiKeys: ApiKeyStore;
  responses: ResponseStore;
  files: FileStore;
  usage: UsageStore;
  requestLog: RequestLogStore;
}

let both: BothEngines;
let feed: PostgresChangeFeed;
let engines: [Engine, Engine];

function key(id: string, createdAt: number): ApiKeyRecord {
  return {
    id,
    name: `Ünïcode key ${id} 🔑`,
    prefix: 'sk-llm-abcd',
    secretHash: `hash-${id}`,
    scope: id === 'key_admin' ? 'admin' : 'user',
    models: ['*'],
    rpm: null,
    tpm: 10_000,
    maxConcurrent: null,
    dailyTokens: 1,
    monthlyTokens: null,
    expiresAt: null,
    createdAt,
    lastUsedAt: null,
    disabled: true,
    revokedAt: null,
    cache: false,
  };
}

function onBothEngines<T>(check: (engine: Engine) => Promise<T>): Promise<T> {
  return sameOnBothEngines(engines, check);
}

describe('store interfaces: SQLite and PostgreSQL give the same results', () => {
  before(async () => {
    both = await openBothEngines('llmsvc_engines');
    const { sqlite, pool } = both;
    feed = await PostgresChangeFeed.open(both.url, () => undefined);
    engines = [
      {
        name: 'sqlite',
        apiKeys: new ApiKeyRepository(sqlite),
        responses: new ResponseRepository(sqlite),
        files: new FileRepository(sqlite),
        usage: new UsageRepository(sqlite),
        requestLog: new RequestLogRepository(sqlite),
      },
      {
        name: 'postgres',
        apiKeys: new PostgresApiKeyRepository(pool, feed),
        responses: new PostgresResponseRepository(pool),
        files: new PostgresFileRepository(pool),
        usage: new PostgresUsageRepository(pool),
        requestLog: new PostgresRequestLogRepository(pool),
      },
    ];
  });
  after(async () => {
    await feed.close();
    await both.close();
  });

  test('API keys: save, find by hash and id, list in creation order, modify, touch', async () => {
    const listed = await onBothEngines(async ({ apiKeys }) => {
      // Saved out of order; two share a creation time (then ordered by id).
      for (const record of [key('key_b', 2000), key('key_c', 1000), key('key_a', 2000)]) await apiKeys.save(record);
      const modified = await apiKeys.modify('key_c', (current) => ({ ...current, revokedAt: 3000, models: ['tiny', 'small*'] }));
      await apiKeys.touch('key_a', Date.UTC(2035, 0, 1));
      return {
        list: await apiKeys.list(),
        byHash: await apiKeys.findByHash('hash-key_b'),
        byId: await apiKeys.find('key_c'),
        modified,
        missing: [await apiKeys.find('nope'), await apiKeys.findByHash('nope'), await apiKeys.modify('nope', (current) => current)],
        saveCount: apiKeys.saveCount,
      };
    });
    assert.deepEqual(listed.list.map((record) => record.id), ['key_c', 'key_a', 'key_b']);
    assert.equal(listed.list[1]!.lastUsedAt, Date.UTC(2035, 0, 1));
    assert.deepEqual(listed.byId, { ...key('key_c', 1000), revokedAt: 3000, models: ['tiny', 'small*'] });
    assert.deepEqual(listed.missing, [undefined, undefined, undefined]);
    assert.equal(listed.saveCount, 4);
  });

  test('stored responses: insert, find (JSON as stored, keyId only when set), delete once', async () => {
    const stored: StoredResponse = {
      id: 'resp_1',
      keyId: 'key_a',
      createdAt: 1_796_000_000,
      model: 'tiny',
      response: { id: 'resp_1', object: 'response', output: [{ type: 'message', content: [{ type: 'output_text', text: 'héllo 👋 "quoted" \\ back' }] }] },
      context: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'héllo' }],
      inputCount: 1,
    };
    const { keyId: _, ...withoutKey } = { ...stored, id: 'resp_2' };
    const results = await onBothEngines(async ({ responses }) => {
      await responses.insert(stored);
      await responses.insert(withoutKey);
      return {
        found: await responses.find('resp_1'),
        foundWithoutKey: await responses.find('resp_2'),
        deleted: [await responses.delete('resp_1'), await responses.delete('resp_1')],
        afterDelete: await responses.find('resp_1'),
      };
    });
    assert.deepEqual(results.found, stored);
    assert.deepEqual(results.foundWithoutKey, withoutKey);
    assert.equal('keyId' in results.foundWithoutKey!, false);
    assert.deepEqual(results.deleted, [true, false]);
    assert.equal(results.afterDelete, undefined);
  });

  test('files: insert, find, pages both ways from cursors with and without a purpose, blob keys, delete', async () => {
    const file = (n: number, purpose: string): FileRecord => ({ id: `file-${n}`, filename: `f${n}.jsonl`, bytes: n * 100, purpose, createdAt: 1_796_000_000, sha256: `sha-${n}` });
    const results = await onBothEngines(async ({ files }) => {
      for (let n = 1; n <= 5; n++) await files.insert(file(n, n % 2 === 0 ? 'batch' : 'assistants'), `blob-${n <= 2 ? 'shared' : n}`);
      const ids = (page: { items: FileRecord[]; hasMore: boolean }) => ({ ids: page.items.map((item) => item.id), hasMore: page.hasMore });
      const pages = {
        firstAsc: ids(await files.list({ limit: 2, order: 'asc' })),
        afterAsc: ids(await files.list({ limit: 2, order: 'asc', after: 'file-2' })),
        firstDesc: ids(await files.list({ limit: 2, order: 'desc' })),
        beforeDesc: ids(await files.list({ limit: 2, order: 'desc', before: 'file-2' })),
        batchOnly: ids(await files.list({ limit: 10, order: 'desc' }, 'batch')),
      };
      const found = await files.find('file-3');
      const sharedInUse = await files.blobInUse('blob-shared');
      await files.moveToBlob('file-1', 'blob-moved');
      const moved = await files.blobKey('file-1');
      const deleted = [await files.delete('file-2'), await files.delete('file-2')];
      return { pages, found, sharedInUse, moved, deleted, missing: [await files.blobKey('file-2'), await files.blobInUse('nope'), await files.legacyIds(10)] };
    });
    assert.deepEqual(results.pages, {
      firstAsc: { ids: ['file-1', 'file-2'], hasMore: true },
      afterAsc: { ids: ['file-3', 'file-4'], hasMore: true },
      firstDesc: { ids: ['file-5', 'file-4'], hasMore: true },
      beforeDesc: { ids: ['file-4', 'file-3'], hasMore: true },
      batchOnly: { ids: ['file-4', 'file-2'], hasMore: false },
    });
    assert.deepEqual(results.found, file(3, 'assistants'));
    assert.equal(results.sharedInUse, true);
    assert.equal(results.moved, 'blob-moved');
    assert.deepEqual(results.deleted, [true, false]);
    assert.deepEqual(results.missing, [undefined, false, []]);
  });

  test('usage: upserts add up per key, model and day; token sums over a range; rows for one key or all', async () => {
    const results = await onBothEngines(async ({ usage }) => {
      const day = (d: number) => `2026-12-0${d}`;
      await usage.add({ keyId: 'key_a', model: 'tiny', day: day(1), promptTokens: 10, completionTokens: 5, error: false });
      await usage.add({ keyId: 'key_a', model: 'tiny', day: day(1), promptTokens: 3_000_000_000, completionTokens: 7, error: true });
      await usage.add({ keyId: 'key_a', model: 'small', day: day(2), promptTokens: 1, completionTokens: 1, error: false }, 4, 2);
      await usage.add({ keyId: 'key_b', model: 'tiny', day: day(3), promptTokens: 100, completionTokens: 0, error: false });
      return {
        tokens: [await usage.tokensBetween('key_a', day(1), day(2)), await usage.tokensBetween('key_a', day(2), day(9)), await usage.tokensBetween('nobody', day(1), day(9))],
        keyA: await usage.range('key_a', day(1), day(9)),
        all: await usage.range(null, day(2), day(3)),
      };
    });
    assert.deepEqual(results.tokens, [3_000_000_024, 2, 0]);
    assert.deepEqual(results.keyA[0], { keyId: 'key_a', model: 'tiny', day: '2026-12-01', requests: 2, promptTokens: 3_000_000_010, completionTokens: 12, errors: 1 });
    assert.deepEqual(results.keyA[1], { keyId: 'key_a', model: 'small', day: '2026-12-02', requests: 4, promptTokens: 1, completionTokens: 1, errors: 2 });
    assert.deepEqual(results.all.map((row) => `${row.keyId}/${row.day}`), ['key_a/2026-12-02', 'key_b/2026-12-03']);
  });

  test('request log: insert, recent newest first, filtered pages by key, model, status class and time, from a cursor', async () => {
    const entry = (n: number, overrides: Partial<RequestLogEntry> = {}): RequestLogEntry => ({
      id: `req-${n}`,
      createdAt: Date.UTC(2026, 11, 6, 3, 0, n),
      route: '/v1/chat/completions',
      method: 'POST',
      model: n % 2 === 0 ? 'tiny' : 'small',
      status: n % 3 === 0 ? 429 : 200,
      promptTokens: n,
      completionTokens: n % 3 === 0 ? null : 2 * n,
      latencyMs: n + 0.25,
      ttftMs: n % 3 === 0 ? null : n / 8,
      stream: n % 2 === 1,
      errorCode: n % 3 === 0 ? 'rate_limit_exceeded' : null,
      promptText: n === 1 ? 'héllo 👋' : null,
      keyId: n <= 4 ? 'key_a' : 'key_b',
      ...overrides,
    });
    const results = await onBothEngines(async ({ requestLog }) => {
      for (let n = 1; n <= 6; n++) await requestLog.insert(entry(n));
      const seqless = (rows: (RequestLogEntry & { seq: number })[]) => rows.map(({ seq: _, ...row }) => row);
      const firstPage = await requestLog.query({ limit: 2 });
      return {
        recent: await requestLog.recent(3),
        firstPage: seqless(firstPage),
        nextPage: seqless(await requestLog.query({ limit: 2, after: firstPage.at(-1)!.seq })),
        byKeyAndModel: seqless(await requestLog.query({ keyId: 'key_a', model: 'tiny', limit: 10 })),
        clientErrors: seqless(await requestLog.query({ status: [400, 499], limit: 10 })),
        exactStatus: seqless(await requestLog.query({ status: 200, since: Date.UTC(2026, 11, 6, 3, 0, 4), limit: 10 })),
      };
    });
    assert.deepEqual(results.recent, [entry(6), entry(5), entry(4)]);
    assert.deepEqual(results.firstPage, [entry(6), entry(5)]);
    assert.deepEqual(results.nextPage, [entry(4), entry(3)]);
    assert.deepEqual(results.byKeyAndModel, [entry(4), entry(2)]);
    assert.deepEqual(results.clientErrors, [entry(6), entry(3)]);
    assert.deepEqual(results.exactStatus, [entry(5), entry(4)]);
  });
});
