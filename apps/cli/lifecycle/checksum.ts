import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

/** SHA-256 of a file, streamed (models are GBs). */
export async function sha256File(file: string): Promise<string> {
  // Small files (most of node_modules) in one read: a stream per file costs more than the hashing.
  if (fs.statSync(file).size < 4 * 2 ** 20) return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

export interface ManifestFile {
  /** Path relative to the manifest's root, always with '/'. */
  path: string;
  size: number;
  sha256: string;
}

/** Every regular file under root, relative, sorted (reproducible order), '/'-separated. */
export function listFilesRecursive(root: string, skip: (relative: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const relative = path.relative(root, full).split(path.sep).join('/');
      if (skip(relative)) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.push(relative);
    }
  };
  walk(root);
  return out.sort();
}

/** Size and SHA-256 of the given files under root. */
export async function describeFiles(root: string, relatives: string[], onFile?: (done: number, total: number) => void): Promise<ManifestFile[]> {
  const files: ManifestFile[] = [];
  for (const relative of relatives) {
    const full = path.join(root, relative);
    files.push({ path: relative, size: fs.statSync(full).size, sha256: await sha256File(full) });
    onFile?.(files.length, relatives.length);
  }
  return files;
}

/** The files whose size or SHA-256 under root differ from the manifest, each with a sentence. */
export async function verifyFiles(root: string, files: readonly ManifestFile[]): Promise<string[]> {
  const problems: string[] = [];
  for (const file of files) {
    if (!isSafeRelative(file.path)) {
      problems.push(`${file.path}: the manifest names a path outside the folder`);
      continue;
    }
    const full = path.join(root, file.path);
    const stat = fs.statSync(full, { throwIfNoEntry: false });
    if (!stat?.isFile()) problems.push(`${file.path}: missing`);
    else if (stat.size !== file.size) problems.push(`${file.path}: ${stat.size} bytes, the manifest says ${file.size} (truncated or changed)`);
    else if ((await sha256File(full)) !== file.sha256) problems.push(`${file.path}: SHA-256 does not match the manifest (changed or corrupt)`);
  }
  return problems;
}

/** A manifest path may not climb out of its root or be absolute. */
export function isSafeRelative(relative: string): boolean {
  if (relative === '' || path.isAbsolute(relative) || relative.includes('\\')) return false;
  return !relative.split('/').some((part) => part === '..' || part === '');
}
