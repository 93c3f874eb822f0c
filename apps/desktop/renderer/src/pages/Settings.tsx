import { useEffect, useState } from 'preact/hooks';
import { ErrorNote, useApi, type PageProps } from '../hooks';
import { applyTheme, storedTheme, type Theme } from '../theme';

interface ServerInfo {
  version: string;
  host: string;
  auth: boolean;
  data_dir: string;
  models_dir: string;
  max_loaded_models: number;
  parallel: number | 'auto';
  context_size: number;
  cache: boolean;
  log_prompts: boolean;
  offline: boolean;
  node: string;
}

export function Settings(props: PageProps) {
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const info = useApi<ServerInfo>('/admin/v1/server');
  const [desktop, setDesktop] = useState<{ mode: string; url: string; dataDir: string | null } | null>(null);

  useEffect(() => {
    window.llmsvcDesktop?.serverInfo().then(setDesktop, () => undefined);
  }, []);

  const rows: [string, string][] = info.data
    ? [
        ['Version', info.data.version],
        ['Server', location.origin],
        ['Bound to', info.data.host],
        ['Authentication', info.data.auth ? 'on' : 'off (loopback only)'],
        ['Data folder', info.data.data_dir],
        ['Models folder', info.data.models_dir],
        ['Models loaded at once', String(info.data.max_loaded_models)],
        ['Sequences per model', String(info.data.parallel)],
        ['Context size', String(info.data.context_size)],
        ['Response cache', info.data.cache ? 'on' : 'off'],
        ['Prompts in the request log', info.data.log_prompts ? 'stored' : 'not stored'],
        ['Offline mode', info.data.offline ? 'on' : 'off'],
        ['Node.js', info.data.node],
        ...(desktop ? ([['Desktop app', desktop.mode === 'embedded' ? 'runs its own server' : `connected to ${desktop.url}`]] as [string, string][]) : []),
      ]
    : [];

  return (
    <div class="settings">
      <section class="card">
        <h2>Appearance</h2>
        <fieldset>
          <legend>Theme</legend>
          {(['system', 'light', 'dark'] as const).map((choice) => (
            <label key={choice} class="inline">
              <input
                type="radio"
                name="theme"
                value={choice}
                checked={theme === choice}
                onChange={() => {
                  setTheme(choice);
                  applyTheme(choice);
                }}
              />{' '}
              {choice === 'system' ? 'Follow the system' : choice === 'light' ? 'Light' : 'Dark'}
            </label>
          ))}
        </fieldset>
      </section>
      <section class="card">
        <h2>Session</h2>
        <p>Signed in with an admin key. Sessions last 12 hours, or until the server restarts.</p>
        <button type="button" class="secondary" onClick={props.onSignOut}>Sign out</button>
      </section>
      <section class="card">
        <h2>Server</h2>
        <ErrorNote error={info.error} />
        <dl>
          {rows.map(([name, value]) => (
            <div key={name} class="pair"><dt>{name}</dt><dd>{value}</dd></div>
          ))}
        </dl>
      </section>
    </div>
  );
}
