import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../../errors/index.js';
import { listFilesQuerySchema, type FileService } from '../../../rag/index.js';
import type { StoredBlob } from '../../../storage/index.js';
import { parseBody } from '../../validation.js';

/** Largest upload accepted: OpenAI's limit for batch input files. Uploads stream to the blob
 *  store (never whole in memory); indexing for vector stores reads a file whole. */
export const maxUploadBytes = 200 * 1024 * 1024;

const uploadHelp = "Upload the file as multipart/form-data with a 'file' part and a 'purpose' field (for vector stores: purpose=assistants).";

/** multipart/form-data → a stored file, whatever the order of its parts (the SDKs send `file`
 *  first): the file part streams into the blob store while it is hashed, then the row is written
 *  once the purpose is known. A failed or invalid upload leaves nothing stored. */
async function receiveUpload(request: FastifyRequest, files: FileService) {
  let file: { filename: string; stored: StoredBlob } | undefined;
  let purpose: string | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || file) {
          await part.toBuffer(); // drain a part we do not keep
          continue;
        }
        // A file part without a filename (curl -F 'file=<data' sends none) was stored with a NULL name: a 500.
        if (!part.filename) {
          throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `The 'file' part has no filename. Send it with one (Content-Disposition: form-data; name="file"; filename="data.jsonl"). ${uploadHelp}`, 'file');
        }
        file = { filename: part.filename, stored: await files.contents.write(part.file) };
      } else if (part.fieldname === 'purpose') {
        purpose = String(part.value);
      }
    }
  } catch (error) {
    if (file) await files.contents.release(file.stored.key);
    throw uploadError(error);
  }
  if (!file) throw new ApiError('LLMSVC_ERR_MISSING_PARAM', `Missing required parameter: 'file'. ${uploadHelp}`, 'file');
  if (purpose === undefined) {
    await files.contents.release(file.stored.key);
    throw new ApiError('LLMSVC_ERR_MISSING_PARAM', `Missing required parameter: 'purpose'. ${uploadHelp}`, 'purpose');
  }
  return files.register(file.filename, purpose, file.stored);
}

function uploadError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    return new ApiError('LLMSVC_ERR_BODY_TOO_LARGE', `The file is larger than the ${maxUploadBytes / 2 ** 20} MiB llmsvc accepts. Split it into smaller files.`);
  }
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') return new ApiError('LLMSVC_ERR_INVALID_PARAM', `The request is not multipart/form-data. ${uploadHelp}`, 'file');
  if (error instanceof ApiError) return error;
  // Everything else here is busboy failing to parse the client's body ("Multipart: Boundary not
  // found", "Unexpected end of form"): a client error, not a 500.
  return new ApiError('LLMSVC_ERR_INVALID_PARAM', `The multipart body could not be read (${(error as Error).message}). ${uploadHelp}`, 'file');
}

/** The Files API: POST/GET /v1/files, GET/DELETE /v1/files/{id}, GET /v1/files/{id}/content. */
export function registerFiles(app: FastifyInstance, files: FileService): void {
  // multipart only where uploads are taken: every other route stays JSON-only.
  void app.register(async (uploads) => {
    await uploads.register(multipart, { limits: { fileSize: maxUploadBytes, files: 1, fields: 8 } });
    uploads.post('/v1/files', async (request) => receiveUpload(request, files));
  });
  app.get('/v1/files', async (request) => {
    const query = parseBody(listFilesQuerySchema, request.query);
    return files.list(query, query.purpose);
  });
  app.get<{ Params: { id: string } }>('/v1/files/:id', async (request) => files.get(request.params.id));
  app.get<{ Params: { id: string } }>('/v1/files/:id/content', async (request, reply) => {
    const { content } = await files.content(request.params.id);
    return reply.type('application/octet-stream').send(content);
  });
  app.delete<{ Params: { id: string } }>('/v1/files/:id', async (request) => files.delete(request.params.id));
}
