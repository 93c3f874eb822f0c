import { useState } from 'preact/hooks';
import { api, type List } from '../api';
import { Confirm } from '../Confirm';
import { formatTime } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';
import type { AdminJob } from '../../../../../core/server/routes/admin/wire';

type Job = AdminJob;

/** States in which a job (ingestion or batch) has ended: nothing left to cancel. */
const finished = new Set(['done', 'failed', 'completed', 'cancelled', 'expired']);
/** Ingestions end on their own (the API refuses to cancel them): no Cancel button. */
const ingestionKind = 'vector_store.file.ingest';

/** The downloads of a batch: plain links (a GET with the session cookie, streamed to disk by the
 *  browser, no CSRF token needed), to the same routes the SDKs use. */
function Downloads({ job }: { job: Job }) {
  const links: { href: string; label: string; file: string }[] = [];
  if (job.output_file_id) links.push({ href: `/v1/files/${encodeURIComponent(job.output_file_id)}/content`, label: 'Output', file: `${job.id}-output.jsonl` });
  if (job.error_file_id) links.push({ href: `/v1/files/${encodeURIComponent(job.error_file_id)}/content`, label: 'Errors', file: `${job.id}-errors.jsonl` });
  if (job.results_url) links.push({ href: job.results_url, label: 'Results', file: `${job.id}-results.jsonl` });
  return (
    <>
      {links.map((link) => (
        <a key={link.href} class="button secondary" href={link.href} download={link.file} aria-label={`Download ${link.label.toLowerCase()} of ${job.id}`}>
          {link.label}
        </a>
      ))}
    </>
  );
}

/** A batch's lines by outcome, the ones there are: "1 succeeded · 2 canceled". */
function countsText(counts: NonNullable<Job['request_counts']>): string {
  const parts = Object.entries(counts).filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`);
  return parts.join(' · ');
}

/** Batches (OpenAI and Anthropic) and ingestion jobs, newest first, with progress, cancel
 *  (after a confirmation) and the download of a batch's results. */
export function Batches(_props: PageProps) {
  const jobs = useApi<List<Job>>('/admin/v1/jobs', 2_000);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<Job | null>(null);

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
      <p class="hint">Batches and ingestion jobs, newest first; they refresh every 2 seconds.</p>
      {jobs.data && rows.length === 0 ? (
        <p class="hint">No jobs yet. Batches (POST /v1/batches, /v1/messages/batches) and file ingestion into vector stores run here.</p>
      ) : (
        <table>
          <thead><tr><th scope="col">Job</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Created</th><th scope="col">Updated</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {rows.map((job) => (
              <tr key={job.id}>
                <td class="mono">{job.id}{job.error && <div class="error small">{job.error}</div>}</td>
                <td>{job.kind === 'batch' ? `batch (${job.api === 'anthropic' ? 'Anthropic' : 'OpenAI'})` : job.kind}{job.endpoint && <div class="hint small mono">{job.endpoint}</div>}</td>
                <td><span class={`badge ${job.state}`}>{job.state}</span></td>
                <td class="nowrap">
                  <progress max={Math.max(1, job.progress_total ?? 0)} value={job.progress_done} aria-label={`Progress of ${job.id}`} /> {job.progress_done} / {job.progress_total ?? '?'}
                  {job.request_counts && <div class="hint small">{countsText(job.request_counts)}</div>}
                </td>
                <td>{formatTime(job.created_at)}</td>
                <td>{formatTime(job.updated_at)}</td>
                <td class="actions">
                  {job.kind === 'batch' && <Downloads job={job} />}
                  {!finished.has(job.state) && job.state !== 'cancelling' && job.kind !== ingestionKind && (
                    <button type="button" class="danger" onClick={() => setConfirm(job)} aria-label={`Cancel ${job.id}`}>Cancel</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {confirm && (
        <Confirm
          title={`Cancel ${confirm.id}?`}
          body={confirm.kind === 'batch' ? 'No new line of this batch will start; lines running now finish and keep their results. This cannot be undone.' : 'The job stops; this cannot be undone.'}
          action="Cancel job"
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            const job = confirm;
            setConfirm(null);
            void cancel(job);
          }}
        />
      )}
    </div>
  );
}
