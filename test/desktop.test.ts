import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import vm from 'node:vm';
import { after, describe, test } from 'node:test';
import { appMenuTemplate, statusLabel, trayMenuTemplate, type MenuActions } from '../apps/desktop/main/menus.js';
import { consoleUrl, navigationDecision, permissionAllowed, windowOptions } from '../apps/desktop/main/policy.js';
import { startEmbeddedServer, type EmbeddedServer } from '../apps/desktop/main/serverProcess.js';
import { exchangeKeyForSession, readAdminKey } from '../apps/desktop/main/session.js';
import { chooseServer } from '../apps/desktop/main/settings.js';
import { cliPath } from './support/cli.js';
import { tempDir, testModelsDir } from './support/server.js';

// The Electron binary cannot be downloaded here: these tests check the main process's modules
// without it (apps/desktop/main/index.ts only wires them to Electron).

describe('desktop window and navigation policy', () => {
  const origin = 'http://127.0.0.1:41234';

  test('navigation stays on the server origin; web links go to the system browser; other schemes are refused', () => {
    assert.equal(navigationDecision(`${origin}/admin/#/keys`, origin), 'allow');
    assert.equal(navigationDecision('https://github.com/llmsvc', origin), 'external');
    assert.equal(navigationDecision('http://127.0.0.1:9999/admin/', origin), 'external', 'another port is another origin');
    assert.equal(navigationDecision('http://localhost:41234/admin/', origin), 'external', 'another host name is another origin');
    for (const refused of ['file:///etc/passwd', 'javascript:alert(1)', 'data:text/html,hi', 'chrome://settings', 'not a url']) {
      assert.equal(navigationDecision(refused, origin), 'deny', refused);
    }
  });

  test('the window is isolated and sandboxed with no Node.js in the page', () => {
    const options = windowOptions('/app/preload/index.cjs');
    const web = options.webPreferences!;
    assert.equal(web.contextIsolation, true);
    assert.equal(web.sandbox, true);
    assert.equal(web.nodeIntegration, false);
    assert.equal(web.nodeIntegrationInSubFrames, false);
    assert.equal(web.webSecurity, true);
    assert.equal(web.allowRunningInsecureContent, false);
    assert.equal(web.preload, '/app/preload/index.cjs');
    assert.ok(options.width! >= 1280 && options.height! >= 800);
  });

  test('every permission request is denied', () => {
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) assert.equal(permissionAllowed(permission), false);
  });

  test('the window opens the server console', () => {
    assert.equal(consoleUrl('http://127.0.0.1:5000'), 'http://127.0.0.1:5000/admin/');
  });

  test('server choice: --server-url connects to a running server, else the user data dir the CLI uses', () => {
    assert.deepEqual(chooseServer(['electron', '.', '--server-url=http://box:8080/x'], {}), { mode: 'remote', url: 'http://box:8080' });
    assert.deepEqual(chooseServer([], { LLMSVC_DESKTOP_SERVER_URL: 'https://llm.lan' }), { mode: 'remote', url: 'https://llm.lan' });
    assert.throws(() => chooseServer(['--server-url=file:///x'], {}), /http\(s\) URL/);
    assert.deepEqual(chooseServer([], { XDG_DATA_HOME: '/home/u/.data' }), { mode: 'embedded', dataDir: '/home/u/.data/llmsvc' });
    assert.deepEqual(chooseServer([], { LLMSVC_DATA_DIR: '/srv/llmsvc' }), { mode: 'embedded', dataDir: '/srv/llmsvc' });
  });

  test('the tray shows the server status and offers the console and quit', () => {
    const calls: string[] = [];
    const actions: MenuActions = { showWindow: () => calls.push('show'), openInBrowser: () => calls.push('browser'), reload: () => calls.push('reload'), quit: () => calls.push('quit') };
    const running = trayMenuTemplate({ state: 'running', url: 'http://127.0.0.1:5000' }, actions);
    assert.equal(running[0]!.label, 'llmsvc running at http://127.0.0.1:5000');
    assert.equal(running[0]!.enabled, false);
    const stopped = trayMenuTemplate({ state: 'stopped', reason: 'exited with code 1' }, actions);
    assert.equal(stopped.find((item) => item.label === 'Open in browser')!.enabled, false);
    (running.find((item) => item.label === 'Quit llmsvc')!.click as () => void)();
    assert.deepEqual(calls, ['quit']);
    assert.equal(statusLabel({ state: 'starting' }), 'llmsvc starting…');
    const menu = appMenuTemplate(actions, false);
    assert.deepEqual(menu.map((item) => item.label ?? item.role), ['File', 'editMenu', 'View', 'windowMenu']);
  });
});

describe('desktop preload bridge', () => {
  test('exposes exactly signIn and serverInfo, each one IPC call, and is CommonJS (sandboxed preloads cannot be ES modules)', async () => {
    const preload = path.resolve(import.meta.dirname, '../dist/apps/desktop/preload/index.cjs');
    assert.ok(fs.existsSync(preload), 'build dist/ first (npx tsc -p tsconfig.json)');
    const exposed: Record<string, Record<string, () => Promise<unknown>>> = {};
    const invoked: string[] = [];
    const electron = {
      contextBridge: { exposeInMainWorld: (name: string, api: Record<string, () => Promise<unknown>>) => (exposed[name] = api) },
      ipcRenderer: { invoke: async (channel: string) => invoked.push(channel) },
    };
    const module = { exports: {} };
    const required: string[] = [];
    vm.runInNewContext(fs.readFileSync(preload, 'utf8'), {
      require: (name: string) => {
        required.push(name);
        if (name === 'electron') return electron;
        throw new Error(`a sandboxed preload cannot require ${name}`);
      },
      module,
      exports: module.exports,
    });
    assert.deepEqual(Object.keys(exposed), ['llmsvcDesktop']);
    assert.deepEqual(Object.keys(exposed.llmsvcDesktop!).sort(), ['serverInfo', 'signIn']);
    await exposed.llmsvcDesktop!.signIn!();
    await exposed.llmsvcDesktop!.serverInfo!();
    assert.deepEqual(invoked, ['llmsvc:sign-in', 'llmsvc:server-info']);
    assert.deepEqual(required, ['electron']);
  });
});

describe('desktop embedded server lifecycle (a real llmsvc serve child)', () => {
  const dataDir = tempDir('llmsvc-desktop-');
  let server: EmbeddedServer | undefined;
  after(async () => {
    await server?.stop(2_000);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('starts on a free loopback port, signs in with the data dir admin key, and stops cleanly', async () => {
    assert.ok(fs.existsSync(cliPath), 'build dist/ first (npx tsc -p tsconfig.json)');
    const env: NodeJS.ProcessEnv = { LLMSVC_THREADS: '1' };
    server = await startEmbeddedServer({ runtime: process.execPath, cliPath, dataDir, env, extraArgs: ['--models-dir', testModelsDir, '--log-level', 'warn'], startTimeoutMs: 60_000 });
    const url = new URL(server.url);
    assert.equal(url.hostname, '127.0.0.1');
    assert.ok(Number(url.port) > 0);

    const key = readAdminKey(dataDir);
    assert.ok(key, 'the first start wrote <data-dir>/admin.key');
    const cookie = await exchangeKeyForSession(server.url, key);
    assert.equal(cookie.name, 'llmsvc_session');
    assert.ok(cookie.expirationDate > Date.now() / 1000);
    const keys = await fetch(`${server.url}/admin/v1/keys`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    assert.equal(keys.status, 200);
    await assert.rejects(exchangeKeyForSession(server.url, 'sk-llmsvc-wrong-0000000000000000'), /HTTP 401/);

    assert.equal(await server.stop(), 0, 'SIGTERM drains and exits 0');
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(Number(url.port), '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    assert.ok(refused, 'the port is closed after stop');
  });

  test('a server that cannot start rejects with its last lines', async () => {
    await assert.rejects(
      startEmbeddedServer({ runtime: process.execPath, cliPath, dataDir, extraArgs: ['--parallel', 'lots'], startTimeoutMs: 30_000 }),
      /exited \(code \d+\) before it was listening[\s\S]*parallel/,
    );
  });
});
