import { useState } from 'preact/hooks';
import { api, type List } from '../api';
import { formatBytes } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';
import type { AdminModel } from '../../../../../core/server/routes/admin/wire';

type ModelInfo = AdminModel;

interface RoutingConfig {
  offline: boolean;
  egress_allowlist: string[] | null;
  providers: { id: string; type: string; base_url: string | null; models: string[]; api_key: string; api_key_source: string | null }[];
  routes: { model: string; targets: { provider: string; model: string; weight?: number }[]; redact: boolean | string[]; cache: boolean }[];
}

export function Models(_props: PageProps) {
  const models = useApi<List<ModelInfo>>('/admin/v1/models', 5_000);
  const routing = useApi<RoutingConfig>('/admin/v1/config/routing');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function change(model: ModelInfo, action: 'load' | 'unload') {
    setBusy(model.id);
    setError(null);
    try {
      await api(`/admin/v1/models/${encodeURIComponent(model.id)}/${action}`, { method: 'POST' });
      models.reload();
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(null);
    }
  }

  return (
    <div>
      <h2>Local models</h2>
      <ErrorNote error={models.error ?? error} />
      <table>
        <thead>
          <tr><th scope="col">Model</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Backend</th><th scope="col">Sequences</th><th scope="col">Memory</th><th scope="col">File size</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr>
        </thead>
        <tbody>
          {(models.data?.data ?? []).map((model) => (
            <tr key={model.id}>
              <td>{model.id}<div class="muted">{model.file}</div></td>
              <td>{model.kind}</td>
              <td><span class={`badge ${model.state}`}>{model.state}</span></td>
              <td>{model.backend ?? '—'}</td>
              <td>{model.parallel ?? '—'}</td>
              <td>{formatBytes(model.memory_bytes)}</td>
              <td>{formatBytes(model.size_bytes)}</td>
              <td class="actions">
                {model.state === 'unloaded' ? (
                  <button type="button" disabled={busy === model.id} onClick={() => change(model, 'load')} aria-label={`Load ${model.id}`}>Load</button>
                ) : (
                  <button type="button" class="secondary" disabled={busy === model.id || model.state === 'loading'} onClick={() => change(model, 'unload')} aria-label={`Unload ${model.id}`}>Unload</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Routes</h2>
      <ErrorNote error={routing.error} />
      <p class="hint">Read-only: routes and providers come from the config file (restart to change them).{routing.data?.offline ? ' Offline mode: upstream targets are refused.' : ''}</p>
      {routing.data && routing.data.routes.length === 0 ? (
        <p class="hint">No routes: clients ask for local models by id.</p>
      ) : (
        <table>
          <thead><tr><th scope="col">Model id</th><th scope="col">Targets, in order</th><th scope="col">Redaction</th><th scope="col">Cache</th></tr></thead>
          <tbody>
            {(routing.data?.routes ?? []).map((route) => (
              <tr key={route.model}>
                <td>{route.model}</td>
                <td>{route.targets.map((target) => `${target.provider}/${target.model}${target.weight ? ` (weight ${target.weight})` : ''}`).join(' → ')}</td>
                <td>{route.redact === true ? 'all kinds' : Array.isArray(route.redact) && route.redact.length ? route.redact.join(', ') : 'off'}</td>
                <td>{route.cache ? 'always' : 'deterministic only'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Upstream providers</h2>
      {routing.data && routing.data.providers.length === 0 ? (
        <p class="hint">No upstream providers configured.</p>
      ) : (
        <table>
          <thead><tr><th scope="col">Provider</th><th scope="col">Type</th><th scope="col">Base URL</th><th scope="col">Models</th><th scope="col">API key</th></tr></thead>
          <tbody>
            {(routing.data?.providers ?? []).map((provider) => (
              <tr key={provider.id}>
                <td>{provider.id}</td>
                <td>{provider.type}</td>
                <td class="mono">{provider.base_url ?? 'vendor default'}</td>
                <td>{provider.models.join(', ') || '—'}</td>
                <td>{provider.api_key}{provider.api_key_source ? ` (${provider.api_key_source})` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
