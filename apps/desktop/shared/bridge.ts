/** The one bridge the desktop app's preload script exposes to the console page (as
 *  `window.llmsvcDesktop`). Only what the UI needs: signing in without pasting the key (the main
 *  process does the exchange; the key never reaches the page) and the server's state for the
 *  Settings page. In a browser the bridge is absent and the page shows its own sign-in form. */
export interface DesktopBridge {
  /** Asks the main process to sign this window in; resolves true when the session cookie is set. */
  signIn(): Promise<boolean>;
  /** How the app reached its server: one it started on the user's data dir, or a URL the user gave. */
  serverInfo(): Promise<{ mode: 'embedded' | 'remote'; url: string; dataDir: string | null }>;
}

export const bridgeName = 'llmsvcDesktop';
