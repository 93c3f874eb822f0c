import type { MenuItemConstructorOptions } from 'electron';

export type ServerStatus = { state: 'starting' } | { state: 'running'; url: string } | { state: 'stopped'; reason?: string };

export function statusLabel(status: ServerStatus): string {
  if (status.state === 'running') return `llmsvc running at ${status.url}`;
  if (status.state === 'starting') return 'llmsvc starting…';
  return `llmsvc stopped${status.reason ? `: ${status.reason}` : ''}`;
}

export interface MenuActions {
  showWindow: () => void;
  openInBrowser: () => void;
  reload: () => void;
  quit: () => void;
}

/** The tray's menu: the server's status (not clickable) and the few things one does from a tray. */
export function trayMenuTemplate(status: ServerStatus, actions: MenuActions): MenuItemConstructorOptions[] {
  return [
    { label: statusLabel(status), enabled: false },
    { type: 'separator' },
    { label: 'Open console', click: actions.showWindow },
    { label: 'Open in browser', click: actions.openInBrowser, enabled: status.state === 'running' },
    { type: 'separator' },
    { label: 'Quit llmsvc', click: actions.quit },
  ];
}

/** The application menu: standard roles (they keep copy/paste and zoom working) plus reload. */
export function appMenuTemplate(actions: MenuActions, isMac: boolean): MenuItemConstructorOptions[] {
  return [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    { label: 'File', submenu: [{ label: 'Open in browser', click: actions.openInBrowser }, { type: 'separator' }, { label: 'Quit', accelerator: 'CmdOrCtrl+Q', click: actions.quit }] },
    { role: 'editMenu' },
    { label: 'View', submenu: [{ label: 'Reload', accelerator: 'CmdOrCtrl+R', click: actions.reload }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }, { role: 'toggleDevTools' }] },
    { role: 'windowMenu' },
  ];
}
