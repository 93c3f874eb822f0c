// The desktop app's main process: wires the small modules beside it to Electron. Everything that
// can be checked without Electron (policies, menus, the server's lifecycle, sign-in) lives in those
// modules and is tested in test/desktop.test.ts; this file only connects them.
import path from 'node:path';
import { app, BrowserWindow, ipcMain, Menu, nativeImage, session, shell, Tray } from 'electron';
import { appMenuTemplate, trayMenuTemplate, type MenuActions, type ServerStatus } from './menus.js';
import { consoleUrl, navigationDecision, permissionAllowed, windowOptions } from './policy.js';
import { startEmbeddedServer, type EmbeddedServer } from './serverProcess.js';
import { exchangeKeyForSession, readAdminKey } from './session.js';
import { chooseServer } from './settings.js';

const here = import.meta.dirname;
/** dist/apps/desktop/main → dist/apps/cli/main.js and dist/apps/desktop/preload/index.cjs. */
const cliPath = path.resolve(here, '../../cli/main.js');
const preloadPath = path.resolve(here, '../preload/index.cjs');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  const choice = chooseServer(process.argv, process.env);
  let server: EmbeddedServer | undefined;
  let serverUrl = choice.mode === 'remote' ? choice.url : '';
  let window: BrowserWindow | undefined;
  let tray: Tray | undefined;
  let status: ServerStatus = { state: 'starting' };
  let quitting = false;

  const actions: MenuActions = {
    showWindow: () => {
      if (!window) createWindow();
      window?.show();
      window?.focus();
    },
    openInBrowser: () => serverUrl && void shell.openExternal(consoleUrl(serverUrl)),
    reload: () => window?.reload(),
    quit: () => app.quit(),
  };

  const setStatus = (next: ServerStatus) => {
    status = next;
    tray?.setToolTip(status.state === 'running' ? `llmsvc: ${status.url}` : `llmsvc: ${status.state}`);
    tray?.setContextMenu(Menu.buildFromTemplate(trayMenuTemplate(status, actions)));
  };

  function createWindow(): void {
    window = new BrowserWindow(windowOptions(preloadPath));
    const contents = window.webContents;
    contents.setWindowOpenHandler(({ url }) => {
      if (navigationDecision(url, serverUrl) !== 'deny') void shell.openExternal(url);
      return { action: 'deny' };
    });
    contents.on('will-navigate', (event, url) => {
      const decision = navigationDecision(url, serverUrl);
      if (decision === 'allow') return;
      event.preventDefault();
      if (decision === 'external') void shell.openExternal(url);
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
    window.once('ready-to-show', () => window?.show());
    window.on('closed', () => (window = undefined));
    void window.loadURL(consoleUrl(serverUrl));
  }

  // Another launch focuses this one instead of starting a second server.
  app.on('second-instance', () => actions.showWindow());

  app.on('before-quit', (event) => {
    if (quitting || !server) return;
    event.preventDefault();
    quitting = true;
    setStatus({ state: 'stopped', reason: 'quitting' });
    void server.stop().finally(() => app.quit());
  });

  // The tray keeps the server running when the window is closed.
  app.on('window-all-closed', () => undefined);

  void app.whenReady().then(async () => {
    session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) => callback(permissionAllowed(permission)));
    session.defaultSession.setPermissionCheckHandler((_contents, permission) => permissionAllowed(permission));
    Menu.setApplicationMenu(Menu.buildFromTemplate(appMenuTemplate(actions, process.platform === 'darwin')));
    tray = new Tray(nativeImage.createFromPath(path.resolve(here, '../../../../installers/desktop/tray.png')));
    setStatus(status);

    ipcMain.handle('llmsvc:server-info', () => ({ mode: choice.mode, url: serverUrl, dataDir: choice.mode === 'embedded' ? choice.dataDir : null }));
    ipcMain.handle('llmsvc:sign-in', async (event) => {
      // Only the console page of this app's server may ask, and only with the data dir's own key.
      if (navigationDecision(event.senderFrame?.url ?? '', serverUrl) !== 'allow' || choice.mode !== 'embedded') return false;
      const key = readAdminKey(choice.dataDir);
      if (!key) return false;
      const cookie = await exchangeKeyForSession(serverUrl, key);
      await session.defaultSession.cookies.set({ url: serverUrl, ...cookie, httpOnly: true, sameSite: 'strict', path: '/' });
      return true;
    });

    if (choice.mode === 'embedded') {
      try {
        server = await startEmbeddedServer({ runtime: process.execPath, cliPath, dataDir: choice.dataDir, onLine: (line) => console.log(`[llmsvc] ${line}`) });
        serverUrl = server.url;
        void server.exited.then((code) => !quitting && setStatus({ state: 'stopped', reason: `exited with code ${code}` }));
      } catch (error) {
        setStatus({ state: 'stopped', reason: (error as Error).message.split('\n')[0] });
        return;
      }
    }
    setStatus({ state: 'running', url: serverUrl });
    createWindow();
  });
}
