import os from 'node:os';
import path from 'node:path';

export type ServerChoice = { mode: 'embedded'; dataDir: string } | { mode: 'remote'; url: string };

/** Where the app's server comes from: `--server-url=<url>` (or LLMSVC_DESKTOP_SERVER_URL) connects
 *  to a running llmsvc; otherwise the app starts its own on the user's data dir, the same folder
 *  `llmsvc serve` uses (LLMSVC_DATA_DIR, else $XDG_DATA_HOME/llmsvc or ~/.local/share/llmsvc), so
 *  keys and models are shared with the CLI. */
export function chooseServer(argv: readonly string[], env: NodeJS.ProcessEnv): ServerChoice {
  const flag = argv.find((arg) => arg.startsWith('--server-url='))?.slice('--server-url='.length);
  const url = flag || env.LLMSVC_DESKTOP_SERVER_URL;
  if (url) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`--server-url must be an http(s) URL, not ${url}`);
    return { mode: 'remote', url: parsed.origin };
  }
  const dataDir = env.LLMSVC_DATA_DIR || (env.XDG_DATA_HOME ? path.join(env.XDG_DATA_HOME, 'llmsvc') : path.join(os.homedir(), '.local', 'share', 'llmsvc'));
  return { mode: 'embedded', dataDir };
}
