import { useState } from 'preact/hooks';
import type { List } from '../api';
import { formatNumber, formatTime } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';
import type { AdminRequestRow } from '../../../../../core/server/routes/admin/wire';

type RequestRow = AdminRequestRow;

/** The request log, newest first, refreshed every few seconds while auto-refresh is on. */
export function Requests(_props: PageProps) {
  const [filters, setFilters] = useState({ key_id: '', model: '', status: '' });
  const [draft, setDraft] = useState(filters);
  const [auto, setAuto] = useState(true);
  const query = new URLSearchParams({ limit: '100' });
  for (const [name, value] of Object.entries(filters)) if (value.trim()) query.set(name, value.trim());
  const requests = useApi<List<RequestRow>>(`/admin/v1/requests?${query}`, auto ? 3_000 : undefined);
  const rows = requests.data?.data ?? [];

  function field(name: keyof typeof filters, label: string, placeholder: string) {
    return (
      <div class="field">
        <label for={`filter-${name}`}>{label}</label>
        <input id={`filter-${name}`} value={draft[name]} placeholder={placeholder} onInput={(event) => setDraft({ ...draft, [name]: (event.target as HTMLInputElement).value })} />
      </div>
    );
  }

  return (
    <div>
      <form
        class="toolbar filters"
        role="search"
        aria-label="Filter requests"
        onSubmit={(event) => {
          event.preventDefault();
          setFilters(draft);
        }}
      >
        {field('key_id', 'Key id', 'key_…')}
        {field('model', 'Model', 'any')}
        {field('status', 'Status', '200, 4xx, 5xx…')}
        <button type="submit">Apply</button>
        <label class="inline"><input type="checkbox" checked={auto} onChange={(event) => setAuto((event.target as HTMLInputElement).checked)} /> Auto-refresh</label>
      </form>
      <ErrorNote error={requests.error} />
      {requests.data && rows.length === 0 ? (
        <p class="hint">No requests match.</p>
      ) : (
        <table class="requests">
          <thead><tr><th scope="col">Time</th><th scope="col">Route</th><th scope="col">Model</th><th scope="col">Key</th><th scope="col">Status</th><th scope="col">Tokens in / out</th><th scope="col">Latency</th><th scope="col">TTFT</th></tr></thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id}>
                <td title={row.id}>{formatTime(row.created_at)}</td>
                <td class="mono">{row.method} {row.route}{row.stream ? ' (stream)' : ''}</td>
                <td>{row.model ?? '—'}</td>
                <td class="mono">{row.key_id ?? '—'}</td>
                <td><span class={`badge status-${String(row.status)[0]}xx`}>{row.status}</span>{row.error_code && <div class="small muted">{row.error_code}</div>}</td>
                <td>{formatNumber(row.prompt_tokens)} / {formatNumber(row.completion_tokens)}</td>
                <td>{row.latency_ms === null ? '—' : `${formatNumber(row.latency_ms, 0)} ms`}</td>
                <td>{row.ttft_ms === null ? '—' : `${formatNumber(row.ttft_ms, 0)} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
