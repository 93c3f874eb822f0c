import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { loadConfig } from '../core/config/index.js';
import { Service } from '../core/service.js';
import { synthesizeOnnxEmbeddingModel } from '../models/onnx/index.js';
import { cliPath, runCli, startServe } from './support/cli.js';
import { authedFetch, startTestServer, tempDir, testAdminKey, testModelsDir, tinyModelPath, type TestServer } from './support/server.js';

// Defects a new user hit in their first ten minutes with llmsvc (issue 12), one test each.

let server: TestServer;

before(async () => {
  server = await startTestServer({ context_size: 512, auth_failure_limit: 1000 });
});
after(() => server.stop());

describe('an Authorization header without "Bearer "', () => {
  for (const [name, header, says] of [
    ['the raw key', testAdminKey, /without the 'Bearer ' scheme/],
    ['another scheme', `Basic ${Buffer.from(`user:${testAdminKey}`).toString('base64')}`, /uses the 'Basic' scheme/],
    ['Bearer with no key', 'Bearer', /no key follows it/],
    ['an unknown scheme', `sk-llmsvc-${'x'.repeat(12)} ${testAdminKey}`, /does not start with 'Bearer '/],
  ] as const) {
    test(`${name}: says what is wrong with the header, not "You didn't provide an API key"`, async () => {
      const response = await fetch(`${server.url}/v1/models`, { headers: { authorization: header } });
      assert.equal(response.status, 401);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'invalid_api_key');
      assert.match(error.message, says);
      assert.match(error.message, /must be 'Bearer <key>'/);
      assert.ok(!error.message.includes(testAdminKey), 'the key is never echoed');
    });
  }

  test('the same header through the Anthropic shape, and x-api-key beside it still works', async () => {
    const anthropic = await fetch(`${server.url}/v1/models`, { headers: { authorization: testAdminKey, 'anthropic-version': '2023-06-01' } });
    assert.equal(anthropic.status, 401);
    const body = (await anthropic.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.error.type, 'authentication_error');
    assert.match(body.error.message, /must be 'Bearer <key>'/);
    const withXApiKey = await fetch(`${server.url}/v1/models`, { headers: { authorization: 'Basic abc', 'x-api-key': testAdminKey } });
    assert.equal(withXApiKey.status, 200);
  });
});

describe('a fresh install: the README retrieval walkthrough with nothing added', () => {
  test('rag ingest finds an embedding model (smoke-tiny), --embedding-model smoke-tiny exists, and citations carry the file name, not the path', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(path.join(dir, 'docs', 'animals'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'docs', 'animals', 'quokka.md'), '# Quokkas\n\nThe quokka is a small marsupial that lives on Rottnest Island.');
    try {
      // Before any serve: the CLI generates the same default model the server would.
      const ingest = runCli(['rag', 'ingest', path.join(dir, 'docs'), '--store', 'notes', '--data-dir', dataDir, '--json']);
      assert.equal(ingest.status, 0, ingest.stderr);
      assert.equal(JSON.parse(ingest.stdout).indexed, 1);
      const named = runCli(['rag', 'ingest', path.join(dir, 'docs'), '--store', 'named', '--embedding-model', 'smoke-tiny', '--data-dir', dataDir, '--json']);
      assert.equal(named.status, 0, named.stderr);
      const stores = JSON.parse(runCli(['rag', 'stores', '--data-dir', dataDir, '--json']).stdout) as { id: string; name: string; embedding_model: string }[];
      assert.deepEqual(stores.map((store) => [store.name, store.embedding_model]), [['notes', 'smoke-tiny'], ['named', 'smoke-tiny']]);
      const listed = JSON.parse(runCli(['models', 'list', '--data-dir', dataDir, '--json']).stdout) as { id: string; builtIn: boolean }[];
      assert.deepEqual(listed.map((model) => [model.id, model.builtIn]), [['smoke-tiny', true]], 'models list shows what serve serves');

      const serve = await startServe(['--data-dir', dataDir, '--threads', '1']);
      try {
        const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
        assert.deepEqual((await client.models.list()).data.map((model) => model.id), ['smoke-tiny']);
        const answer = (await client.chat.completions.create({
          model: 'smoke-tiny',
          messages: [{ role: 'user', content: 'Where do quokkas live?' }],
          max_tokens: 8,
          seed: 1,
          retrieval: { vector_store_ids: [stores[0]!.id] },
        } as OpenAI.ChatCompletionCreateParamsNonStreaming)) as OpenAI.ChatCompletion & { citations: { filename: string }[] };
        assert.equal(answer.citations[0]?.filename, 'quokka.md');
        const search = (await (
          await authedFetch(`${serve.url}/v1/vector_stores/${stores[0]!.id}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'quokka' }) })
        ).json()) as { data: { filename: string; attributes: Record<string, unknown> }[] };
        assert.deepEqual(search.data.map((hit) => [hit.filename, hit.attributes.path]), [['quokka.md', 'docs/animals/quokka.md']]);
        assert.ok(!JSON.stringify(answer).includes(dir) && !JSON.stringify(search).includes(dir), "the ingesting machine's paths appear nowhere");
      } finally {
        serve.child.kill('SIGTERM');
        await serve.exited;
      }
      // Re-running from elsewhere finds the same files by their relative path.
      const again = runCli(['rag', 'ingest', path.join(dir, 'docs'), '--store', 'notes', '--data-dir', dataDir, '--json']);
      assert.equal(JSON.parse(again.stdout).unchanged, 1, again.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX model directories are models everywhere', () => {
  test('models list shows ONNX directories and /readyz models_available counts them', async () => {
    const modelsDir = tempDir();
    try {
      fs.symlinkSync(tinyModelPath, path.join(modelsDir, 'chat.gguf'));
      await synthesizeOnnxEmbeddingModel(path.join(modelsDir, 'mini-embed'), { preset: 'tiny' });
      const list = runCli(['models', 'list', '--models-dir', modelsDir, '--json']);
      assert.equal(list.status, 0, list.stderr);
      assert.deepEqual((JSON.parse(list.stdout) as { id: string; format: string }[]).map((model) => [model.id, model.format]), [['chat', 'gguf'], ['mini-embed', 'onnx']]);
      const table = runCli(['models', 'list', '--models-dir', modelsDir]);
      assert.match(table.stdout, /mini-embed\s+onnx\s+embeddings/);
      const onnxServer = await startTestServer({ models_dir: modelsDir });
      try {
        let ready: { status: string; models_available: number } | undefined;
        for (let attempt = 0; attempt < 100 && ready?.status !== 'ready'; attempt++) {
          ready = (await (await fetch(`${onnxServer.url}/readyz`)).json()) as typeof ready;
          if (ready?.status !== 'ready') await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(ready?.models_available, 2);
      } finally {
        await onnxServer.stop();
      }
    } finally {
      fs.rmSync(modelsDir, { recursive: true, force: true });
    }
  });
});

describe('small ones', () => {
  test('a port already in use says so and names the flag to change it (--port)', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    const dataDir = tempDir();
    try {
      const config = loadConfig({ env: {}, flags: { port, data_dir: dataDir, models_dir: testModelsDir, admin_key: testAdminKey, log_level: 'silent', threads: 1 } });
      await assert.rejects(Service.start(config), (error: Error) => {
        assert.match(error.message, new RegExp(`Port ${port} is already in use on 127\\.0\\.0\\.1`));
        assert.match(error.message, /--port N/);
        assert.match(error.message, /--port 0 picks a free one/);
        return true;
      });
    } finally {
      holder.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a misspelt config key gets "did you mean"', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'config.json');
      fs.writeFileSync(file, JSON.stringify({ modelz_dir: '/x', prot: 1 }));
      assert.throws(() => loadConfig({ env: {}, file }), /unknown setting "modelz_dir" \(did you mean "models_dir"\?\), "prot" \(did you mean "port"\?\)/);
      assert.throws(() => loadConfig({ env: {}, file: writeJson(dir, { zzzz_qqqq: 1 }) }), (error: Error) => !error.message.includes('did you mean'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a misspelt flag gets "did you mean", not buried under the whole help', () => {
    const result = runCli(['serve', '--prot', '8081']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /unknown option '--prot'\n\(Did you mean --port\?\)/);
    assert.ok(result.stderr.split('\n').filter(Boolean).length <= 3, result.stderr);
    const command = runCli(['sevre']);
    assert.match(command.stderr, /\(Did you mean serve\?\)/);
  });
});

function writeJson(dir: string, value: unknown): string {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('stopping npx llmsvc serve by the launcher', () => {
  /** A launcher script that starts serve, through `sh -c` as npx does (npm → sh → node, the shell
   *  left in between) or directly, and passes serve's output on. Its file name has "npm" in it, as
   *  npm's command line does. */
  function launch(dir: string, options: { viaShell: boolean; flags: string[]; env: NodeJS.ProcessEnv }) {
    const launcher = path.join(dir, 'npm-launcher.mjs');
    const command = [process.execPath, cliPath, 'serve', ...options.flags, '--port', '0', '--data-dir', path.join(dir, 'data'), '--models-dir', testModelsDir, '--threads', '1'];
    const quoted = command.map((word) => `'${word}'`).join(' ');
    fs.writeFileSync(
      launcher,
      `import { spawn, spawnSync } from 'node:child_process';\n` +
        (options.viaShell ? `spawn('sh', ['-c', ${JSON.stringify(`${quoted}; true`)}], { stdio: 'inherit' });\n` : `spawn(${JSON.stringify(command[0])}, ${JSON.stringify(command.slice(1))}, { stdio: 'inherit' });\n`) +
        `setInterval(() => {}, 1000);\n`,
    );
    const parent = spawn(process.execPath, [launcher], { env: { ...process.env, LLMSVC_ADMIN_KEY: testAdminKey, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise<{ parent: typeof parent; url: string; serverPid: number }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
      parent.stdout.on('data', (chunk) => {
        out += chunk;
        const match = /llmsvc listening on (http:\/\/\S+)/.exec(out);
        if (!match) return;
        clearTimeout(timer);
        resolve({ parent, url: match[1]!, serverPid: descendantRunning(parent.pid!, cliPath) });
      });
    });
  }

  /** The pid of the launcher's descendant whose command line holds `needle`. */
  function descendantRunning(root: number, needle: string): number {
    const children = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    for (const queue = children(root); queue.length; ) {
      const pid = queue.shift()!;
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(needle)) return pid;
      queue.push(...children(pid));
    }
    throw new Error('serve not found under the launcher');
  }

  async function assertExits(pid: number, url: string) {
    for (let waited = 0; waited < 15_000; waited += 100) {
      try {
        process.kill(pid, 0);
      } catch {
        await assert.rejects(fetch(`${url}/healthz`), 'the port is free');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    process.kill(pid, 'SIGKILL');
    assert.fail('serve outlived its launcher');
  }

  for (const [name, options] of [
    ['under npx (npm → sh → node), npm SIGKILLed', { viaShell: true, flags: [], env: { npm_lifecycle_event: 'npx', npm_command: 'exec' } }],
    ['started by a script with --exit-with-parent, the script SIGKILLed', { viaShell: false, flags: ['--exit-with-parent'], env: {} }],
  ] as const) {
    test(`${name}: serve stops cleanly and frees the port`, { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
      const dir = tempDir();
      try {
        const { parent, url, serverPid } = await launch(dir, { ...options, flags: [...options.flags] });
        assert.equal((await fetch(`${url}/healthz`)).status, 200);
        parent.kill('SIGKILL');
        await assertExits(serverPid, url);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('npm', () => {
  const root = path.resolve(import.meta.dirname, '..');

  test('npm commands in the project print no "Unknown project config" warning (onnxruntime-node-install in .npmrc)', () => {
    const result = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: root, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /Unknown (project|user|env) config/);
  });

  test("onnxruntime-node's CUDA download is skipped by allowScripts, and its CPU binary ships in the package", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
    assert.equal(pkg.allowScripts['onnxruntime-node'], false, 'its postinstall only fetches the CUDA provider from NuGet');
    const binding = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6', process.platform, process.arch, 'onnxruntime_binding.node');
    assert.ok(fs.existsSync(binding), `${binding} comes in the npm package, no install script needed`);
  });
});

test("the README's generation examples carry max_tokens (a random model otherwise writes ~2,000 tokens of gibberish to 'Hello')", () => {
  const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
  const examples = [...readme.matchAll(/```(?:sh|ts)\n([\s\S]*?)```/g)].flatMap((block) => block[1]!.split(/\n(?! )/)).filter((line) => /messages/.test(line) && /completions|curl/.test(line) || /"messages"/.test(line));
  assert.ok(examples.length >= 3, `found the examples: ${examples.length}`);
  for (const example of examples) assert.match(example, /max_tokens/, example);
});
