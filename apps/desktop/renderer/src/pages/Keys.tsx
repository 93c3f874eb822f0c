import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type List } from '../api';
import { Chart } from '../Chart';
import { Confirm } from '../Confirm';
import { daysAgo, formatNumber, formatTime } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';
import { SecretOnce } from '../SecretOnce';
import type { AdminKey } from '../../../../../core/server/routes/admin/wire';

export type ApiKey = AdminKey;

const limitFields = [
  ['rpm', 'Requests per minute'],
  ['tpm', 'Tokens per minute'],
  ['max_concurrent', 'Concurrent requests'],
  ['daily_tokens', 'Tokens per day'],
  ['monthly_tokens', 'Tokens per month'],
] as const;
type LimitField = (typeof limitFields)[number][0];

type SortColumn = 'name' | 'scope' | 'created_at' | 'last_used_at';

function limitValue(form: FormData, field: string): number | null {
  const raw = String(form.get(field) ?? '').trim();
  return raw === '' ? null : Number(raw);
}

function statusOf(key: ApiKey): string {
  if (key.revoked) return 'revoked';
  if (key.disabled) return 'disabled';
  if (key.expires_at !== null && key.expires_at * 1000 <= Date.now()) return 'expired';
  return 'active';
}

export function Keys(_props: PageProps) {
  const keys = useApi<List<ApiKey>>('/admin/v1/keys');
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<{ column: SortColumn; descending: boolean }>({ column: 'created_at', descending: true });
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const [confirm, setConfirm] = useState<{ key: ApiKey; action: 'revoke' | 'rotate' } | null>(null);
  const [usageOf, setUsageOf] = useState<ApiKey | null>(null);
  const [error, setError] = useState<string | null>(null);

  const needle = search.trim().toLowerCase();
  const rows = (keys.data?.data ?? [])
    .filter((key) => !needle || [key.name, key.id, key.prefix, key.scope, ...key.models].some((text) => text.toLowerCase().includes(needle)))
    .sort((a, b) => {
      const left = a[sort.column] ?? 0;
      const right = b[sort.column] ?? 0;
      const order = left < right ? -1 : left > right ? 1 : 0;
      return sort.descending ? -order : order;
    });

  async function act(run: () => Promise<void>) {
    setError(null);
    try {
      await run();
      keys.reload();
    } catch (failure) {
      setError((failure as Error).message);
    }
  }

  function header(column: SortColumn, label: string) {
    const active = sort.column === column;
    return (
      <th scope="col" aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
        <button type="button" class="link" onClick={() => setSort({ column, descending: active ? !sort.descending : false })}>
          {label} {active ? (sort.descending ? '↓' : '↑') : ''}
        </button>
      </th>
    );
  }

  return (
    <div>
      <div class="toolbar">
        <label for="key-search" class="visually-hidden">Search keys</label>
        <input id="key-search" type="search" placeholder="Search by name, id, prefix, model" value={search} onInput={(event) => setSearch((event.target as HTMLInputElement).value)} />
        <button type="button" onClick={() => setCreating(true)} aria-expanded={creating}>Create key</button>
      </div>
      <ErrorNote error={keys.error ?? error} />
      {secret && <SecretOnce name={secret.name} secret={secret.secret} onDone={() => setSecret(null)} />}
      {creating && (
        <KeyForm
          onCancel={() => setCreating(false)}
          onSubmit={(body) =>
            act(async () => {
              const created = await api<ApiKey & { key: string }>('/admin/v1/keys', { method: 'POST', body });
              setCreating(false);
              setSecret({ name: created.name, secret: created.key });
            })
          }
        />
      )}
      {editing && (
        <KeyForm
          existing={editing}
          onCancel={() => setEditing(null)}
          onSubmit={(body) =>
            act(async () => {
              const { scope: _scope, ...patch } = body;
              await api(`/admin/v1/keys/${encodeURIComponent(editing.id)}`, { method: 'PATCH', body: patch });
              setEditing(null);
            })
          }
        />
      )}
      <table>
        <thead>
          <tr>
            {header('name', 'Name')}
            <th scope="col">Prefix</th>
            {header('scope', 'Scope')}
            <th scope="col">Models</th>
            <th scope="col">Limits</th>
            {header('created_at', 'Created')}
            {header('last_used_at', 'Last used')}
            <th scope="col">Status</th>
            <th scope="col"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {rows.map((key) => (
            <tr key={key.id} class={key.revoked ? 'revoked' : undefined}>
              <td>{key.name}<div class="muted mono">{key.id}</div></td>
              <td class="mono nowrap">{key.prefix}…</td>
              <td>{key.scope}</td>
              <td>{key.models.join(', ')}</td>
              <td class="small">
                {limitFields.filter(([field]) => key[field] !== null).map(([field, label]) => <div key={field}>{label}: {formatNumber(key[field])}</div>)}
                {limitFields.every(([field]) => key[field] === null) && <span class="muted">none</span>}
              </td>
              <td>{formatTime(key.created_at * 1000)}</td>
              <td>{formatTime(key.last_used_at === null ? null : key.last_used_at * 1000)}</td>
              <td><span class={`badge ${statusOf(key)}`}>{statusOf(key)}</span></td>
              <td class="actions">
                <button type="button" class="secondary" onClick={() => setUsageOf(key)} aria-label={`Usage of ${key.name}`}>Usage</button>
                {!key.revoked && <button type="button" class="secondary" onClick={() => setEditing(key)} aria-label={`Edit ${key.name}`}>Edit</button>}
                {!key.revoked && <button type="button" class="secondary" onClick={() => setConfirm({ key, action: 'rotate' })} aria-label={`Rotate ${key.name}`}>Rotate</button>}
                {!key.revoked && key.id !== 'key_admin' && <button type="button" class="danger" onClick={() => setConfirm({ key, action: 'revoke' })} aria-label={`Revoke ${key.name}`}>Revoke</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && keys.data && <p class="hint">No key matches “{search}”.</p>}
      {usageOf && <KeyUsage apiKey={usageOf} onClose={() => setUsageOf(null)} />}
      {confirm && (
        <Confirm
          title={confirm.action === 'revoke' ? `Revoke “${confirm.key.name}”?` : `Rotate “${confirm.key.name}”?`}
          body={
            confirm.action === 'revoke'
              ? 'Every request with this key will get a 401 from now on. This cannot be undone.'
              : 'A new secret replaces the old one at once; programs using the old secret get 401s until they are given the new one.'
          }
          action={confirm.action === 'revoke' ? 'Revoke' : 'Rotate'}
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            const { key, action } = confirm;
            setConfirm(null);
            void act(async () => {
              if (action === 'revoke') await api(`/admin/v1/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
              else {
                const rotated = await api<ApiKey & { key: string }>(`/admin/v1/keys/${encodeURIComponent(key.id)}/rotate`, { method: 'POST' });
                setSecret({ name: rotated.name, secret: rotated.key });
              }
            });
          }}
        />
      )}
    </div>
  );
}

type KeyBody = { name: string; scope: string; models: string[]; cache: boolean; expires_at: string | null } & Record<LimitField, number | null>;

/** Create (every field) or edit (name, models, limits, expiry, cache) a key. */
function KeyForm(props: { existing?: ApiKey; onSubmit: (body: KeyBody) => void; onCancel: () => void }) {
  const existing = props.existing;
  const title = existing ? `Edit “${existing.name}”` : 'New key';
  function submit(event: Event) {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const models = String(form.get('models') ?? '').split(',').map((model) => model.trim()).filter(Boolean);
    const expires = String(form.get('expires_at') ?? '');
    props.onSubmit({
      name: String(form.get('name')),
      scope: String(form.get('scope') ?? 'user'),
      models: models.length ? models : ['*'],
      cache: form.get('cache') === 'on',
      expires_at: expires || null,
      ...(Object.fromEntries(limitFields.map(([field]) => [field, limitValue(form, field)])) as Record<LimitField, number | null>),
    });
  }
  return (
    <form class="card form-grid" onSubmit={submit} aria-label={title}>
      <h2>{title}</h2>
      <label for="key-name">Name</label>
      <input id="key-name" name="name" required maxLength={100} defaultValue={existing?.name} autofocus />
      {!existing && (
        <>
          <label for="key-scope">Scope</label>
          <select id="key-scope" name="scope" defaultValue="user">
            <option value="user">user (API only)</option>
            <option value="admin">admin (API and administration)</option>
          </select>
        </>
      )}
      <label for="key-models">Models</label>
      <input id="key-models" name="models" defaultValue={existing?.models.join(', ') ?? '*'} aria-describedby="key-models-hint" />
      <p id="key-models-hint" class="hint span">Comma-separated model ids or patterns, e.g. <code>*</code> or <code>llama-*, gpt-4o</code>.</p>
      {limitFields.map(([field, label]) => (
        <Fragment key={field}>
          <label for={`key-${field}`}>{label}</label>
          <input id={`key-${field}`} name={field} type="number" min={1} step={1} placeholder="no limit" defaultValue={existing?.[field] ?? undefined} />
        </Fragment>
      ))}
      <label for="key-expires">Expires (UTC date)</label>
      <input id="key-expires" name="expires_at" type="date" defaultValue={existing?.expires_at ? new Date(existing.expires_at * 1000).toISOString().slice(0, 10) : undefined} />
      <label for="key-cache">Cache answers</label>
      <div><input id="key-cache" name="cache" type="checkbox" defaultChecked={existing?.cache} /> <span class="hint">even for random sampling</span></div>
      <div class="row end span">
        <button type="button" class="secondary" onClick={props.onCancel}>Cancel</button>
        <button type="submit">{existing ? 'Save' : 'Create'}</button>
      </div>
    </form>
  );
}

interface UsageRow {
  day: string;
  total_tokens: number;
  requests: number;
}

/** Tokens per UTC day over the last 30 days, for one key. */
function KeyUsage(props: { apiKey: ApiKey; onClose: () => void }) {
  const usage = useApi<List<UsageRow>>(`/admin/v1/usage?key_id=${encodeURIComponent(props.apiKey.id)}&from=${daysAgo(29)}`);
  const byDay = new Map<string, number>();
  for (const row of usage.data?.data ?? []) byDay.set(row.day, (byDay.get(row.day) ?? 0) + row.total_tokens);
  const days = Array.from({ length: 30 }, (_, index) => daysAgo(29 - index));
  const color = getComputedStyle(document.documentElement).getPropertyValue('--series-a').trim() || '#2563eb';
  const panel = useRef<HTMLElement>(null);
  useEffect(() => panel.current?.scrollIntoView({ block: 'nearest' }), [props.apiKey.id]);
  return (
    <section class="card" aria-labelledby="key-usage-title" ref={panel}>
      <div class="row">
        <h2 id="key-usage-title">Usage of “{props.apiKey.name}”, last 30 days</h2>
        <button type="button" class="secondary" onClick={props.onClose}>Close</button>
      </div>
      <ErrorNote error={usage.error} />
      <Chart
        title="Tokens per day"
        days
        series={[{ label: 'tokens', color, bars: true }]}
        data={[days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000), days.map((day) => byDay.get(day) ?? 0)]}
      />
    </section>
  );
}
