import { useState } from 'preact/hooks';
import { api, type List } from '../api';
import { formatBytes, formatTime } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';

interface VectorStore {
  id: string;
  name: string | null;
  status: string;
  usage_bytes: number;
  created_at: number;
  file_counts: { in_progress: number; completed: number; failed: number; cancelled: number; total: number };
}

interface StoreFile {
  id: string;
  status: string;
  usage_bytes: number;
  created_at: number;
  last_error: { message: string } | null;
}

interface SearchHit {
  file_id: string;
  filename: string;
  score: number;
  content: { type: string; text: string }[];
}

export function VectorStores(_props: PageProps) {
  const stores = useApi<List<VectorStore>>('/v1/vector_stores?limit=100', 10_000);
  const [selected, setSelected] = useState<VectorStore | null>(null);
  const rows = stores.data?.data ?? [];
  return (
    <div>
      <ErrorNote error={stores.error} />
      {stores.data && rows.length === 0 ? (
        <p class="hint">No vector stores yet. Create one with the OpenAI SDK (client.vectorStores.create) and attach files to it.</p>
      ) : (
        <table>
          <thead><tr><th scope="col">Store</th><th scope="col">Status</th><th scope="col">Files</th><th scope="col">Size</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {rows.map((store) => (
              <tr key={store.id} aria-selected={selected?.id === store.id}>
                <td>{store.name ?? '(unnamed)'}<div class="muted mono">{store.id}</div></td>
                <td><span class={`badge ${store.status}`}>{store.status}</span></td>
                <td>{store.file_counts.completed} ready{store.file_counts.in_progress ? `, ${store.file_counts.in_progress} in progress` : ''}{store.file_counts.failed ? `, ${store.file_counts.failed} failed` : ''}</td>
                <td>{formatBytes(store.usage_bytes)}</td>
                <td>{formatTime(store.created_at * 1000)}</td>
                <td class="actions"><button type="button" class="secondary" onClick={() => setSelected(store)} aria-label={`Open ${store.name ?? store.id}`}>Open</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected && <StoreDetail store={selected} />}
    </div>
  );
}

function StoreDetail(props: { store: VectorStore }) {
  const { store } = props;
  const files = useApi<List<StoreFile>>(`/v1/vector_stores/${encodeURIComponent(store.id)}/files?limit=100`, 5_000);
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function search(event: Event) {
    event.preventDefault();
    setError(null);
    try {
      const page = await api<List<SearchHit>>(`/v1/vector_stores/${encodeURIComponent(store.id)}/search`, { method: 'POST', body: { query, max_num_results: 10 } });
      setHits(page.data);
    } catch (failure) {
      setError((failure as Error).message);
    }
  }

  return (
    <section class="card" aria-labelledby="store-title">
      <h2 id="store-title">{store.name ?? store.id}</h2>
      <ErrorNote error={files.error} />
      <table>
        <thead><tr><th scope="col">File</th><th scope="col">Status</th><th scope="col">Size</th><th scope="col">Added</th></tr></thead>
        <tbody>
          {(files.data?.data ?? []).map((file) => (
            <tr key={file.id}>
              <td class="mono">{file.id}{file.last_error && <div class="error small">{file.last_error.message}</div>}</td>
              <td><span class={`badge ${file.status}`}>{file.status}</span></td>
              <td>{formatBytes(file.usage_bytes)}</td>
              <td>{formatTime(file.created_at * 1000)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="toolbar" onSubmit={search} role="search">
        <label for="store-query">Search this store</label>
        <input id="store-query" type="search" value={query} required onInput={(event) => setQuery((event.target as HTMLInputElement).value)} />
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={error} />
      {hits && hits.length === 0 && <p class="hint">No results.</p>}
      {hits && hits.length > 0 && (
        <ol class="hits">
          {hits.map((hit, index) => (
            <li key={`${hit.file_id}-${index}`}>
              <div class="muted">{hit.filename} · score {hit.score.toFixed(3)}</div>
              <p>{hit.content.map((part) => part.text).join(' ').slice(0, 400)}</p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
