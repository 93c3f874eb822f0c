// The one bridge between the console page and the main process (Electron's contextBridge; the
// page has no Node.js and no ipcRenderer of its own). CommonJS: sandboxed preloads cannot be ES
// modules.
import { contextBridge, ipcRenderer } from 'electron';
import type { DesktopBridge } from '../shared/bridge.js';

const bridge: DesktopBridge = {
  signIn: () => ipcRenderer.invoke('llmsvc:sign-in') as Promise<boolean>,
  serverInfo: () => ipcRenderer.invoke('llmsvc:server-info') as ReturnType<DesktopBridge['serverInfo']>,
};

// The name is written out: a sandboxed preload can require only 'electron' and a few Node modules.
contextBridge.exposeInMainWorld('llmsvcDesktop', bridge);
