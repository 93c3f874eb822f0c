import { useState } from 'preact/hooks';
import { api, type List } from '../api';
import { formatTime } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';

interface Job {
  id: string;
  kind: string;
  state: string;
  progress_done: number;
  progress_total: number;
  error: string | null;
  created_at: number;
  updated_at: number;
}

const finished = new Set(['done', 'failed', 'cancelled', 'expired']);

/** Background jobs (ingestion today; batches when the batch API lands), with progress and cancel. */
export function Batches(_props: PageProps) {
  const jobs = useApi<List<Job>>('/admin/v1/jobs', 3_000);
  const [error, setError] = useState<string | null>(null);

  async function cancel(job: Job) {
    setError(null);
    try {
      await api(`/admin/v1/jobs/${encodeURIComponent(job.id)}/cancel`, { method: 'POST' });
      jobs.reload();
    } catch (failure) {
      setError((failure as Error).message);
    }
  }

  const rows = jobs.data?.data ?? [];
  return (
    <div>
      <ErrorNote error={jobs.error ?? error} />
      <p class="hint">Jobs refresh every 3 seconds.</p>
      {jobs.data && rows.length === 0 ? (
        <p class="hint">No jobs yet. File ingestion into vector stores (and batches) run here.</p>
      ) : (
        <table>
          <thead><tr><th scope="col">Job</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Created</th><th scope="col">Updated</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {rows.map((job) => (
              <tr key={job.id}>
                <td class="mono">{job.id}{job.error && <div class="error small">{job.error}</div>}</td>
                <td>{job.kind}</td>
                <td><span class={`badge ${job.state}`}>{job.state}</span></td>
                <td class="nowrap">
                  <progress max={Math.max(1, job.progress_total)} value={job.progress_done} aria-label={`Progress of ${job.id}`} /> {job.progress_done} / {job.progress_total}
                </td>
                <td>{formatTime(job.created_at)}</td>
                <td>{formatTime(job.updated_at)}</td>
                <td class="actions">
                  {!finished.has(job.state) && <button type="button" class="danger" onClick={() => cancel(job)} aria-label={`Cancel ${job.id}`}>Cancel</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
