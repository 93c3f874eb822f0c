import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors/index.js';
import type { ApiKeyRecord, Store } from '../store/index.js';
import type { Clock } from './clock.js';
import type { CreateKeyInput, UpdateKeyInput } from './keyInput.js';
import { displayPrefix, generateSecret, hashesEqual, hashSecret } from './secrets.js';

export const adminKeyId = 'key_admin';

/** Where the first start writes the admin key it creates (readable only by its owner). */
export function adminKeyFile(dataDir: string): string {
  return path.join(dataDir, 'admin.key');
}

function newKeyId(): string {
  return `key_${randomBytes(12).toString('base64url')}`;
}

function keyNotFound(id: string): never {
  throw new ApiError('LLMSVC_ERR_NOT_FOUND', `No API key has the id '${id}'. List the keys with GET /admin/v1/keys or 'llmsvc keys list'.`, 'id');
}

/** A key as the admin API and the CLI show it: everything but the hash. */
export function keyView(key: ApiKeyRecord) {
  return {
    id: key.id,
    object: 'api_key' as const,
    name: key.name,
    prefix: key.prefix,
    scope: key.scope,
    models: key.models,
    rpm: key.rpm,
    tpm: key.tpm,
    max_concurrent: key.maxConcurrent,
    daily_tokens: key.dailyTokens,
    monthly_tokens: key.monthlyTokens,
    expires_at: key.expiresAt === null ? null : Math.floor(key.expiresAt / 1000),
    created_at: Math.floor(key.createdAt / 1000),
    last_used_at: key.lastUsedAt === null ? null : Math.floor(key.lastUsedAt / 1000),
    disabled: key.disabled,
    revoked: key.revokedAt !== null,
    cache: key.cache,
  };
}

/** last_used_at is written at most this often per key: it is for people ("is this key still
 *  used?"), and a write per request would cost every request a row update. */
const touchIntervalMs = 1000;

/** Keys: create, change, revoke, rotate, and check a presented secret. The admin API and the CLI
 *  both go through here.
 *
 *  Authentication reads keys from an in-memory cache by secret hash, not from SQLite per request.
 *  The cache is dropped whenever the keys may have changed: on every change made through a
 *  KeyService on this store, and whenever another connection has committed to the database
 *  (SQLite's data_version, checked once per event-loop turn: a statement costs ~15 µs, and the
 *  requests read in one turn share one look), which is how a key revoked or changed by the CLI
 *  from another process stops or changes from the next turn on. Expiry needs no invalidation: it
 *  is checked against the clock on every request. */
export class KeyService {
  private readonly byHash = new Map<string, ApiKeyRecord>();
  private cachedSaveCount = -1;
  private cachedDataVersion = -1;
  /** data_version was read in this event-loop turn. */
  private versionReadThisTurn = false;
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  private readDataVersion(): number {
    this.versionReadThisTurn = true;
    setImmediate(() => (this.versionReadThisTurn = false));
    return this.store.apiKeys.dataVersion();
  }

  /** The key with this secret hash from the cache, after dropping the cache if the keys may have
   *  changed; undefined when it is not cached (unknown secrets are not cached). */
  private cachedByHash(hash: string): ApiKeyRecord | undefined {
    const saveCount = this.store.apiKeys.saveCount;
    const dataVersion = this.versionReadThisTurn ? this.cachedDataVersion : this.readDataVersion();
    if (saveCount !== this.cachedSaveCount || dataVersion !== this.cachedDataVersion) {
      this.byHash.clear();
      this.cachedSaveCount = saveCount;
      this.cachedDataVersion = dataVersion;
    }
    return this.byHash.get(hash);
  }

  /** Reads a key the cache does not hold, and caches it unless the keys changed while it was read
   *  (a save, or the cache dropped by another lookup meanwhile), so a stale key is never cached. */
  private async loadByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const saveCount = this.cachedSaveCount;
    const dataVersion = this.cachedDataVersion;
    const key = await this.store.apiKeys.findByHash(hash);
    if (!key) return undefined;
    // One object serves many requests: frozen, so no request can change it for the next.
    Object.freeze(key.models);
    Object.freeze(key);
    if (saveCount === this.cachedSaveCount && dataVersion === this.cachedDataVersion && saveCount === this.store.apiKeys.saveCount) {
      this.byHash.set(hash, key);
    }
    return key;
  }

  /** Whether a use of the key at `now` should be written to last_used_at (at most once a second
   *  per key); the caller writes it with the request's usage, in the same transaction. */
  shouldTouch(keyId: string, now: number): boolean {
    const last = this.lastTouched.get(keyId);
    if (last !== undefined && now - last < touchIntervalMs && now >= last) return false;
    this.lastTouched.set(keyId, now);
    return true;
  }

  async create(input: CreateKeyInput): Promise<{ key: ApiKeyRecord; secret: string }> {
    const secret = generateSecret();
    const key: ApiKeyRecord = {
      id: newKeyId(),
      name: input.name,
      prefix: displayPrefix(secret),
      secretHash: hashSecret(secret),
      scope: input.scope,
      models: input.models,
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
      maxConcurrent: input.max_concurrent ?? null,
      dailyTokens: input.daily_tokens ?? null,
      monthlyTokens: input.monthly_tokens ?? null,
      expiresAt: input.expires_at ?? null,
      createdAt: this.clock(),
      lastUsedAt: null,
      disabled: false,
      revokedAt: null,
      cache: input.cache,
    };
    await this.store.apiKeys.save(key);
    return { key, secret };
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.store.apiKeys.list();
  }

  async get(id: string): Promise<ApiKeyRecord> {
    return (await this.store.apiKeys.find(id)) ?? keyNotFound(id);
  }

  /** Reads, changes and saves a key in one step of the store, so that two changes of one key
   *  that arrive together (admin API, CLI) both apply. */
  private async modify(id: string, change: (key: ApiKeyRecord) => ApiKeyRecord): Promise<ApiKeyRecord> {
    return (await this.store.apiKeys.modify(id, change)) ?? keyNotFound(id);
  }

  update(id: string, patch: UpdateKeyInput): Promise<ApiKeyRecord> {
    return this.modify(id, (key) => ({
      ...key,
      name: patch.name ?? key.name,
      models: patch.models ?? key.models,
      disabled: patch.disabled ?? key.disabled,
      cache: patch.cache ?? key.cache,
      expiresAt: patch.expires_at === undefined ? key.expiresAt : patch.expires_at,
      rpm: patch.rpm === undefined ? key.rpm : patch.rpm,
      tpm: patch.tpm === undefined ? key.tpm : patch.tpm,
      maxConcurrent: patch.max_concurrent === undefined ? key.maxConcurrent : patch.max_concurrent,
      dailyTokens: patch.daily_tokens === undefined ? key.dailyTokens : patch.daily_tokens,
      monthlyTokens: patch.monthly_tokens === undefined ? key.monthlyTokens : patch.monthly_tokens,
    }));
  }

  /** Revoked keys stay in the table (their usage history refers to them) but never authenticate again. */
  revoke(id: string): Promise<ApiKeyRecord> {
    return this.modify(id, (key) => ({ ...key, revokedAt: key.revokedAt ?? this.clock() }));
  }

  /** A new secret for the same key (same id, limits and usage); the old secret stops working. */
  async rotate(id: string): Promise<{ key: ApiKeyRecord; secret: string }> {
    const secret = generateSecret();
    const rotated = await this.modify(id, (key) => {
      if (key.revokedAt !== null) throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `Key '${id}' is revoked; create a new key instead.`, 'id');
      return { ...key, prefix: displayPrefix(secret), secretHash: hashSecret(secret) };
    });
    return { key: rotated, secret };
  }

  /** The key a secret belongs to, or the 401 that says why not. A key in the cache is answered
   *  synchronously (the common case: no promise, no microtask); one read from the store, as a
   *  promise. */
  authenticate(secret: string): ApiKeyRecord | Promise<ApiKeyRecord> {
    const hash = hashSecret(secret);
    const cached = this.cachedByHash(hash);
    if (cached) return this.checkPresented(cached, hash);
    return this.loadByHash(hash).then((key) => this.checkPresented(key, hash));
  }

  private checkPresented(key: ApiKeyRecord | undefined, hash: string): ApiKeyRecord {
    // The lookup is by hash of a high-entropy secret; the constant-time compare keeps the check
    // free of timing differences even so.
    if (!key || !hashesEqual(key.secretHash, hash)) {
      throw new ApiError('LLMSVC_ERR_INVALID_API_KEY', 'Incorrect API key provided. Check the key, or ask the operator for a new one (llmsvc keys create).');
    }
    return this.requireUsable(key);
  }

  /** The key of a batch line, by id (its secret is not stored): usable only while it would
   *  authenticate, so revoking or disabling a key stops its batches' lines too. */
  async usableById(id: string): Promise<ApiKeyRecord> {
    const key = await this.store.apiKeys.find(id);
    if (!key) throw new ApiError('LLMSVC_ERR_INVALID_API_KEY', 'The API key that submitted this batch no longer exists. Submit the batch again with a valid key.');
    return this.requireUsable(key);
  }

  private requireUsable(key: ApiKeyRecord): ApiKeyRecord {
    if (key.revokedAt !== null) throw new ApiError('LLMSVC_ERR_INVALID_API_KEY', 'This API key has been revoked. Ask the operator for a new one.');
    if (key.disabled) throw new ApiError('LLMSVC_ERR_INVALID_API_KEY', 'This API key is disabled. Ask the operator to enable it.');
    if (key.expiresAt !== null && key.expiresAt <= this.clock()) {
      throw new ApiError('LLMSVC_ERR_API_KEY_EXPIRED', `This API key expired on ${new Date(key.expiresAt).toISOString()}. Ask the operator for a new one.`);
    }
    return key;
  }

  /** The admin key at start-up: the configured secret (LLMSVC_ADMIN_KEY) if given, replacing the
   *  stored one; else, on first start, a new one written to `keyFile` (mode 0600). Returns the
   *  file written, if any. The secret itself is never printed or logged. */
  async ensureAdminKey(configuredSecret: string | undefined, keyFile: string): Promise<string | undefined> {
    const existing = await this.store.apiKeys.find(adminKeyId);
    if (configuredSecret) {
      const hash = hashSecret(configuredSecret);
      if (!existing || existing.secretHash !== hash || existing.revokedAt !== null) {
        await this.saveAdminKey(configuredSecret, existing);
      }
      return undefined;
    }
    if (existing && existing.revokedAt === null) return undefined;
    const secret = generateSecret();
    await this.saveAdminKey(secret, existing);
    fs.mkdirSync(path.dirname(keyFile), { recursive: true });
    fs.writeFileSync(keyFile, `${secret}\n`, { mode: 0o600 });
    fs.chmodSync(keyFile, 0o600); // writeFileSync's mode only applies when it creates the file
    return keyFile;
  }

  private saveAdminKey(secret: string, existing: ApiKeyRecord | undefined): Promise<void> {
    return this.store.apiKeys.save({
      id: adminKeyId,
      name: 'admin',
      prefix: displayPrefix(secret),
      secretHash: hashSecret(secret),
      scope: 'admin',
      models: ['*'],
      rpm: null,
      tpm: null,
      maxConcurrent: null,
      dailyTokens: null,
      monthlyTokens: null,
      expiresAt: null,
      createdAt: existing?.createdAt ?? this.clock(),
      lastUsedAt: existing?.lastUsedAt ?? null,
      disabled: false,
      revokedAt: null,
      cache: existing?.cache ?? false,
    });
  }
}
