import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { authedFetch, startTestServer, tinyModelId, type TestServer } from './support/server.js';

// Prometheus' own checker on a live /metrics. CI installs it (Debian's `prometheus` package, see
// .ci/run); elsewhere the test is skipped, with the reason, only when promtool is absent.
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const promtoolMissing = promtool.error !== undefined;
if (promtoolMissing && process.env.CI === 'true') throw new Error('promtool is required under CI: install Debian\'s prometheus package (.ci/run does)');
const skip = promtoolMissing ? 'promtool is not installed (apt-get install prometheus); CI runs this test' : false;

let server: TestServer;

before(async () => {
  // The response cache on, so that its metrics are in the exposition too.
  server = await startTestServer({ context_size: 512, cache: true });
});
after(() => server?.stop());

async function post(path: string, body: unknown) {
  const response = await authedFetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await response.arrayBuffer();
  return response.status;
}

test('/metrics passes promtool check metrics after traffic (gauges named _total, doubled process_ prefix)', { skip }, async () => {
  // Traffic that fills every family: generations (tokens, TTFT, queue, decode speed, model load),
  // a cache hit, embeddings, a client error and an unknown route.
  const chat = { model: tinyModelId, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, seed: 1 };
  assert.equal(await post('/v1/chat/completions', chat), 200);
  assert.equal(await post('/v1/chat/completions', chat), 200);
  assert.equal(await post('/v1/embeddings', { model: tinyModelId, input: 'hello' }), 200);
  assert.equal(await post('/v1/chat/completions', { model: 'no-such-model', messages: [] }), 400);
  assert.equal((await authedFetch(`${server.url}/v1/nowhere`)).status, 404);

  const response = await authedFetch(`${server.url}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  for (const family of ['llmsvc_http_requests_total', 'llmsvc_completion_tokens_total', 'llmsvc_queue_wait_seconds', 'llmsvc_cache_requests_total', 'llmsvc_process_cpu_seconds_total', 'llmsvc_nodejs_eventloop_lag_seconds']) {
    assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'), `${family} is exposed`);
  }
  assert.doesNotMatch(text, /llmsvc_process_process_/, 'no doubled prefix');

  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
  assert.equal(`${check.stdout}${check.stderr}`.trim(), '', 'no lint findings');
});
