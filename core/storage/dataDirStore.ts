import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore, StoredBlob } from './types.js';

/** Blobs as files under <data_dir>/blobs, named by the sha256 of their content (ab/abcdef…):
 *  the same content is stored once. A blob is written to a temporary file while it is hashed,
 *  fsynced, then renamed to its name (atomic on one file system), and the folder fsynced, so a
 *  crash leaves either the whole blob or only a temporary file (removed at the next start). */
export class DataDirBlobStore implements BlobStore {
  readonly kind = 'data_dir' as const;
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.tmpDir, { recursive: true });
    // Temporaries of writes a crash interrupted. Only old ones: a CLI command opening the same
    // data dir must not remove the temporary of an upload the running server is writing.
    const staleBefore = Date.now() - 24 * 3600 * 1000;
    for (const name of fs.readdirSync(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      const modified = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Infinity;
      if (modified < staleBefore) fs.rmSync(file, { force: true });
    }
  }

  async put(content: Readable | AsyncIterable<Uint8Array | string>): Promise<StoredBlob> {
    const temporary = path.join(this.tmpDir, randomBytes(12).toString('hex'));
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        Readable.from(content),
        async function* (source) {
          for await (const chunk of source as AsyncIterable<Buffer | string>) {
            const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            hash.update(buffer);
            bytes += buffer.length;
            yield buffer;
          }
        },
        fs.createWriteStream(temporary),
      );
      await syncFile(temporary);
    } catch (error) {
      await fs.promises.rm(temporary, { force: true });
      throw error;
    }
    const sha256 = hash.digest('hex');
    const target = this.pathOf(sha256);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await fs.promises.rename(temporary, target);
    await syncDirectory(path.dirname(target));
    return { key: sha256, bytes, sha256 };
  }

  async get(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    await fs.promises.access(file);
    return fs.createReadStream(file);
  }

  async delete(key: string): Promise<void> {
    await fs.promises.rm(this.pathOf(key), { force: true });
  }

  private pathOf(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`Not a blob key: ${key}`);
    return path.join(this.root, key.slice(0, 2), key);
  }
}

/** Flushes a written file to disk before it is renamed into place. */
async function syncFile(file: string): Promise<void> {
  const handle = await fs.promises.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename durable: the directory entry is on disk once its folder is fsynced. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.promises.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
