import type { BrowserWindowConstructorOptions } from 'electron';

/** What the window may do with a URL it is asked to open. */
export type NavigationDecision = 'allow' | 'external' | 'deny';

/** Navigation stays on the server's origin; other web pages go to the system browser; every other
 *  scheme (file:, javascript:, data:, custom protocols) is refused. Electron's security checklist,
 *  items "limit navigation" and "limit creation of new windows". */
export function navigationDecision(target: string, serverOrigin: string): NavigationDecision {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return 'deny';
  }
  if (url.origin === new URL(serverOrigin).origin) return 'allow';
  if (url.protocol === 'https:' || url.protocol === 'http:') return 'external';
  if (url.protocol === 'mailto:') return 'external';
  return 'deny';
}

/** The console window: isolated, sandboxed, no Node.js in the page; the preload script is the only
 *  bridge. */
export function windowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 800,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'llmsvc',
    autoHideMenuBar: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      devTools: true,
    },
  };
}

/** Permission requests (camera, notifications, geolocation, …): the console needs none. */
export function permissionAllowed(_permission: string): boolean {
  return false;
}

/** The page the window opens: the server's console. */
export function consoleUrl(serverUrl: string): string {
  return new URL('/admin/', serverUrl).toString();
}
