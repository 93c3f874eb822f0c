import { ingestFile, ingestionJobKind, recordIngestionFailure, type IngestionDeps, type IngestionPayload } from '../rag/index.js';
import { PermanentJobError, type JobHandler } from './runner.js';

/** Runs vector store file ingestion (core/rag) as durable jobs. */
export function ingestionHandler(deps: IngestionDeps): JobHandler {
  return {
    kind: ingestionJobKind,
    async run({ job, signal, progress }) {
      const outcome = await ingestFile(deps, { jobId: job.id, payload: job.payload as IngestionPayload, signal, progress });
      // Already recorded on the file as its last_error; failing the job keeps the queue's story true.
      if (outcome.status === 'failed') throw new PermanentJobError(outcome.error.message);
    },
    failed(job, message) {
      return recordIngestionFailure(deps, job.id, job.payload as IngestionPayload, { code: 'server_error', message: `Indexing failed: ${message}` });
    },
  };
}
