import { Readable } from 'node:stream';
import { ApiError } from '../errors/index.js';
import type { FileContents, StoredBlob } from '../storage/index.js';
import type { FileRecord, PageRequest, Store } from '../store/index.js';
import { newRagId } from './ids.js';
import { fileObject, listObject } from './objects.js';
import { filePurposes } from './requests.js';
import { notFound, type VectorStoreService } from './vectorStoreService.js';

export interface Upload {
  filename: string;
  purpose: string;
  content: Buffer | Readable;
}

/** The Files API: file rows in SQLite with their sha256 (which vector stores use to avoid
 *  indexing the same content twice); contents in the blob store (data dir or S3). */
export class FileService {
  constructor(
    private readonly store: Store,
    private readonly vectorStores: VectorStoreService,
    readonly contents: FileContents,
    private readonly now: () => number = Date.now,
  ) {}

  async upload(upload: Upload) {
    checkPurpose(upload.purpose);
    const stored = await this.contents.write(Buffer.isBuffer(upload.content) ? Readable.from([upload.content]) : upload.content);
    return this.register(upload.filename, upload.purpose, stored);
  }

  /** Records a file whose content the blob store already holds (the upload route streams it
   *  there before it has read the purpose); an invalid upload's blob is removed again. */
  async register(filename: string, purpose: string, stored: StoredBlob) {
    try {
      checkPurpose(purpose);
      if (stored.bytes === 0) throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `File '${filename}' is empty. Upload a file with content.`, 'file');
    } catch (error) {
      await this.contents.release(stored.key);
      throw error;
    }
    const record: FileRecord = {
      id: newRagId('file', '-'),
      filename,
      bytes: stored.bytes,
      purpose,
      createdAt: Math.floor(this.now() / 1000),
      sha256: stored.sha256,
    };
    await this.store.files.insert(record, stored.key);
    return fileObject(record);
  }

  async list(page: PageRequest, purpose?: string) {
    const result = await this.store.files.list(page, purpose);
    return listObject({ items: result.items.map(fileObject), hasMore: result.hasMore });
  }

  async get(id: string) {
    return fileObject(await this.require(id));
  }

  /** The file's content, streamed from the blob store. */
  async content(id: string): Promise<{ file: FileRecord; content: Readable }> {
    const file = await this.require(id);
    return { file, content: (await this.contents.stream(id))! };
  }

  /** Deletes a file, and removes it (and its chunks) from every vector store that holds it. */
  async delete(id: string) {
    await this.require(id);
    const blobKey = await this.store.files.blobKey(id);
    const queued = await this.store.transaction(async (tx) => {
      const detached = await this.vectorStores.forgetFileInTransaction(tx, id);
      await tx.files.delete(id);
      return detached;
    });
    if (queued) this.vectorStores.jobQueued();
    // After the row: a crash in between leaves an unused blob, never a file without its content.
    // So does a store that cannot be reached now (S3 down): the file is deleted all the same.
    await this.contents.release(blobKey).catch(() => {});
    return { id, object: 'file' as const, deleted: true };
  }

  private async require(id: string): Promise<FileRecord> {
    const file = await this.store.files.find(id);
    if (!file) throw notFound('file', id);
    return file;
  }
}

function checkPurpose(purpose: string): void {
  if (!(filePurposes as readonly string[]).includes(purpose)) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Invalid value for 'purpose': '${purpose}'. Use one of ${filePurposes.join(', ')}.`, 'purpose');
  }
}
