import { Readable } from 'node:stream';
import type { Store } from '../store/index.js';
import type { BlobStore, StoredBlob } from './types.js';

/** The contents of the Files API's files, over the blob store: written as a stream, read as a
 *  stream (or whole, for indexing), removed with the last file that uses them. */
export class FileContents {
  constructor(
    private readonly store: Store,
    readonly blobs: BlobStore,
  ) {}

  write(content: Readable | AsyncIterable<Uint8Array | string>): Promise<StoredBlob> {
    return this.blobs.put(content);
  }

  /** The file's content as a stream, or undefined if there is no such file. */
  async stream(id: string): Promise<Readable | undefined> {
    const key = await this.store.files.blobKey(id);
    if (key === undefined) return undefined;
    if (key === null) return Readable.from([(await this.store.files.legacyContent(id)) ?? Buffer.alloc(0)]);
    return this.blobs.get(key);
  }

  /** The whole content (for indexing, which needs it all). */
  async read(id: string): Promise<Buffer | undefined> {
    const stream = await this.stream(id);
    if (!stream) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  }

  /** Deletes a blob no file uses any more (call after the file's row is gone). */
  async release(key: string | null | undefined): Promise<void> {
    if (key && !(await this.store.files.blobInUse(key))) await this.blobs.delete(key);
  }

  /** Moves contents still kept in SQLite rows (files uploaded before the blob store) into the
   *  blob store, a row at a time: the blob is written first, then the row points at it in one
   *  statement, so a crash in between leaves the row as it was (moved again at the next start;
   *  the data dir store is content-addressed, so that writes the same blob). Returns how many. */
  async moveLegacyContents(): Promise<number> {
    let moved = 0;
    for (;;) {
      const ids = await this.store.files.legacyIds(16);
      if (ids.length === 0) return moved;
      for (const id of ids) {
        const content = (await this.store.files.legacyContent(id)) ?? Buffer.alloc(0);
        const stored = await this.blobs.put(Readable.from([content]));
        await this.store.files.moveToBlob(id, stored.key);
        moved++;
      }
    }
  }
}
