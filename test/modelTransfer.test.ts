// `models export` / `models import` of a GGUF model and an ONNX model dir, refusal of a tampered
// and a truncated export (nothing left behind), and `models pull` from a loopback HTTP server
// that cuts the first download short: the second run resumes with a Range request.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, test } from 'node:test';
import { synthesizeOnnxEmbeddingModel } from '../models/onnx/index.js';
import { runCliAsync } from './support/cli.js';
import { tempDir, tinyModelId, tinyModelPath } from './support/server.js';

const work = tempDir('llmsvc-models-');
after(() => fs.rmSync(work, { recursive: true, force: true }));
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

interface Entry {
  id: string;
  kind: string;
  files: { path: string; size: number; sha256: string }[];
  gguf?: { architecture: string; parameters: number; quantization: string; context_length: number };
}

test('export a GGUF model and an ONNX model dir, import them elsewhere; a tampered or truncated export is refused and leaves nothing', async () => {
  const source = path.join(work, 'source-models');
  fs.mkdirSync(source);
  fs.copyFileSync(tinyModelPath, path.join(source, `${tinyModelId}.gguf`));
  await synthesizeOnnxEmbeddingModel(path.join(source, 'tiny-embed'), { preset: 'tiny', seed: 1 });

  const exported = path.join(work, 'usb');
  const out = await runCliAsync(['models', 'export', tinyModelId, 'tiny-embed', '--models-dir', source, '--out', exported, '--json']);
  assert.equal(out.status, 0, out.stderr);
  const entries = JSON.parse(out.stdout) as Entry[];
  const gguf = entries.find((e) => e.id === tinyModelId)!;
  assert.deepEqual(gguf.gguf, { architecture: 'llama', parameters: gguf.gguf!.parameters, quantization: 'MOSTLY_F16', context_length: 4096 });
  assert.ok(gguf.gguf!.parameters > 0);
  assert.equal(gguf.files[0]!.sha256, sha256(tinyModelPath));
  assert.equal(gguf.files[0]!.size, fs.statSync(tinyModelPath).size);
  const onnx = entries.find((e) => e.id === 'tiny-embed')!;
  assert.equal(onnx.kind, 'onnx');
  assert.ok(onnx.files.some((f) => f.path === 'tiny-embed/model.onnx'));
  assert.ok(fs.existsSync(path.join(exported, 'llmsvc-models.json')));

  const target = path.join(work, 'target-models');
  const imported = await runCliAsync(['models', 'import', exported, '--models-dir', target, '--json']);
  assert.equal(imported.status, 0, imported.stderr);
  assert.deepEqual((JSON.parse(imported.stdout) as { imported: string[] }).imported.sort(), [tinyModelId, 'tiny-embed'].sort());
  assert.equal(sha256(path.join(target, `${tinyModelId}.gguf`)), sha256(tinyModelPath));
  for (const f of onnx.files) assert.equal(sha256(path.join(target, f.path)), f.sha256);
  const again = await runCliAsync(['models', 'import', exported, '--models-dir', target, '--json']);
  assert.deepEqual((JSON.parse(again.stdout) as { unchanged: string[] }).unchanged.length, 2, 'a second import is a no-op');

  // One changed byte in the middle of the exported model: refused, named, nothing left.
  const exportedModel = path.join(exported, `${tinyModelId}.gguf`);
  const pristine = fs.readFileSync(exportedModel);
  const changed = Buffer.from(pristine);
  changed[Math.floor(changed.length / 2)] ^= 0x01;
  fs.writeFileSync(exportedModel, changed);
  const fresh = path.join(work, 'fresh-models');
  const tampered = await runCliAsync(['models', 'import', exported, '--models-dir', fresh]);
  assert.equal(tampered.status, 1);
  assert.match(tampered.stderr, new RegExp(`Model '${tinyModelId}' refused, nothing of it left .*${tinyModelId}\\.gguf does not match its SHA-256`));
  assert.deepEqual(fs.readdirSync(fresh).filter((name) => name.includes(tinyModelId)), [], 'no half-copied model in the models dir');

  // Truncated: refused for its size.
  fs.writeFileSync(exportedModel, pristine.subarray(0, pristine.length - 4096));
  const truncated = await runCliAsync(['models', 'import', exported, '--models-dir', fresh]);
  assert.equal(truncated.status, 1);
  assert.match(truncated.stderr, /bytes, the manifest says \d+: the export is truncated or changed/);
  assert.deepEqual(fs.readdirSync(fresh).filter((name) => name.includes(tinyModelId)), []);
});

test('models pull resumes an interrupted download with a Range request and checks the SHA-256', async () => {
  const payload = randomBytes(3 * 1024 * 1024 + 123);
  const digest = createHash('sha256').update(payload).digest('hex');
  const ranges: (string | undefined)[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    ranges.push(req.headers.range);
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = match ? Number(match[1]) : 0;
    const body = payload.subarray(start);
    res.writeHead(match ? 206 : 200, {
      'content-length': body.length,
      'accept-ranges': 'bytes',
      ...(match ? { 'content-range': `bytes ${start}-${payload.length - 1}/${payload.length}` } : {}),
    });
    if (requests === 1) {
      // The first download dies a third of the way through.
      res.write(body.subarray(0, 1024 * 1024), () => res.destroy());
    } else res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/files/model-x.gguf`;
  const to = path.join(work, 'downloads');
  try {
    const first = await runCliAsync(['models', 'pull', url, '--to', to, '--sha256', digest, '--json']);
    assert.equal(first.status, 1);
    assert.match(first.stderr, /run the same command again to resume/);
    const partialSize = fs.statSync(path.join(to, 'model-x.gguf.partial')).size;
    assert.ok(partialSize > 0 && partialSize < payload.length, `partial ${partialSize}`);
    assert.ok(!fs.existsSync(path.join(to, 'model-x.gguf')));

    const second = await runCliAsync(['models', 'pull', url, '--to', to, '--sha256', digest, '--json']);
    assert.equal(second.status, 0, second.stderr);
    const result = JSON.parse(second.stdout) as { bytes: number; sha256: string; resumedFrom: number; verified: boolean };
    assert.equal(ranges[1], `bytes=${partialSize}-`, 'the second request asked for the rest only');
    assert.equal(result.resumedFrom, partialSize);
    assert.equal(result.bytes, payload.length);
    assert.equal(result.sha256, digest);
    assert.equal(result.verified, true);
    assert.ok(fs.readFileSync(path.join(to, 'model-x.gguf')).equals(payload));
    assert.ok(!fs.existsSync(path.join(to, 'model-x.gguf.partial')));

    // A wrong checksum: refused, the download removed.
    const wrong = await runCliAsync(['models', 'pull', url.replace('model-x', 'model-y'), '--to', to, '--sha256', '0'.repeat(64)]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /does not match the catalog's 0{64}; the download was removed/);
    assert.deepEqual(fs.readdirSync(to).sort(), ['model-x.gguf']);
  } finally {
    server.close();
  }
});

test('models catalog lists the well-known models with their source and license', async () => {
  const out = await runCliAsync(['models', 'catalog', '--json']);
  assert.equal(out.status, 0, out.stderr);
  const catalog = JSON.parse(out.stdout) as { id: string; source_url: string; license: string; sha256?: string }[];
  assert.ok(catalog.length >= 2);
  for (const entry of catalog) {
    assert.match(entry.source_url, /^https:\/\//);
    assert.ok(entry.license);
    if (entry.sha256) assert.match(entry.sha256, /^[0-9a-f]{64}$/);
  }
});
