import type { FileCounts, FileRecord, PageOf, VectorStoreFileRecord, VectorStoreRecord } from '../store/index.js';

/** The API objects, in OpenAI's exact shapes. Times are unix seconds. */

export function fileObject(file: FileRecord) {
  return {
    id: file.id,
    object: 'file' as const,
    bytes: file.bytes,
    created_at: file.createdAt,
    filename: file.filename,
    purpose: file.purpose,
    // Deprecated by OpenAI but still sent: an upload is ready at once.
    status: 'processed' as const,
  };
}

function expiresAt(store: VectorStoreRecord): number | null {
  return store.expiresAfterDays === null ? null : store.lastActiveAt + store.expiresAfterDays * 86_400;
}

export function vectorStoreObject(store: VectorStoreRecord, counts: FileCounts & { usageBytes: number }, nowSeconds: number) {
  const expiry = expiresAt(store);
  const status = expiry !== null && nowSeconds >= expiry ? 'expired' : counts.in_progress > 0 ? 'in_progress' : 'completed';
  const { usageBytes, ...fileCounts } = counts;
  return {
    id: store.id,
    object: 'vector_store' as const,
    created_at: store.createdAt,
    name: store.name,
    usage_bytes: usageBytes,
    file_counts: fileCounts,
    status,
    last_active_at: store.lastActiveAt,
    metadata: store.metadata,
    ...(store.expiresAfterDays === null ? {} : { expires_after: { anchor: 'last_active_at' as const, days: store.expiresAfterDays } }),
    expires_at: expiry,
  };
}

export function vectorStoreFileObject(file: VectorStoreFileRecord) {
  return {
    id: file.fileId,
    object: 'vector_store.file' as const,
    usage_bytes: file.usageBytes,
    created_at: file.createdAt,
    vector_store_id: file.vectorStoreId,
    status: file.status,
    last_error: file.lastError,
    chunking_strategy: { type: 'static' as const, static: file.chunkingStrategy },
    attributes: file.attributes,
  };
}

/** OpenAI's cursor page: `first_id` / `last_id` are null when the page is empty, as OpenAI sends them. */
export function listObject<T extends { id: string }>(page: PageOf<T>) {
  return { object: 'list' as const, data: page.items, first_id: page.items[0]?.id ?? null, last_id: page.items.at(-1)?.id ?? null, has_more: page.hasMore };
}
