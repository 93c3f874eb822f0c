import { createHash } from 'node:crypto';
import { ApiError } from '../errors/index.js';
import type { FileRecord, PageRequest, Store } from '../store/index.js';
import { newRagId } from './ids.js';
import { fileObject, listObject } from './objects.js';
import { filePurposes } from './requests.js';
import { notFound, type VectorStoreService } from './vectorStoreService.js';

export interface Upload {
  filename: string;
  purpose: string;
  content: Buffer;
}

/** The Files API: uploads kept in SQLite, with their sha256 (which vector stores use to avoid
 *  indexing the same content twice). */
export class FileService {
  constructor(
    private readonly store: Store,
    private readonly vectorStores: VectorStoreService,
    private readonly now: () => number = Date.now,
  ) {}

  upload(upload: Upload) {
    if (!(filePurposes as readonly string[]).includes(upload.purpose)) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Invalid value for 'purpose': '${upload.purpose}'. Use one of ${filePurposes.join(', ')}.`, 'purpose');
    }
    if (upload.content.length === 0) {
      throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `File '${upload.filename}' is empty. Upload a file with content.`, 'file');
    }
    const record: FileRecord = {
      id: newRagId('file', '-'),
      filename: upload.filename,
      bytes: upload.content.length,
      purpose: upload.purpose,
      createdAt: Math.floor(this.now() / 1000),
      sha256: createHash('sha256').update(upload.content).digest('hex'),
    };
    this.store.files.insert(record, upload.content);
    return fileObject(record);
  }

  list(page: PageRequest, purpose?: string) {
    const result = this.store.files.list(page, purpose);
    return listObject({ items: result.items.map(fileObject), hasMore: result.hasMore });
  }

  get(id: string) {
    return fileObject(this.require(id));
  }

  content(id: string): { file: FileRecord; content: Buffer } {
    const file = this.require(id);
    return { file, content: this.store.files.content(id)! };
  }

  /** Deletes a file, and removes it (and its chunks) from every vector store that holds it. */
  delete(id: string) {
    this.require(id);
    this.store.db.transaction(() => {
      this.vectorStores.forgetFile(id);
      this.store.files.delete(id);
    })();
    return { id, object: 'file' as const, deleted: true };
  }

  private require(id: string): FileRecord {
    const file = this.store.files.find(id);
    if (!file) throw notFound('file', id);
    return file;
  }
}
