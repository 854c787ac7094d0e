/**
 * API keys: 32 random bytes shown once, stored only as their sha256. A key carries one role; roles are
 * ordered viewer < operator < admin and a route names the least role it needs.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { InputError, NotFoundError, UnavailableError, isDependencyDown } from '@sluice/shared/errors';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What a valid key stands for: the `apiKey` kind of auth/principal.ts's Principal. */
export interface ApiKeyPrincipal {
  kind: 'apiKey';
  id: string;
  name: string;
  role: Role;
}

/** A key as lists and audit rows show it: never the key or its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  revokedAt: string | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  created_at: Date;
  revoked_at: Date | null;
}

function keyView(row: ApiKeyRow): ApiKeyView {
  return { id: row.id, name: row.name, role: row.role, createdAt: row.created_at.toISOString(), revokedAt: row.revoked_at?.toISOString() ?? null };
}

export interface ApiKeyStoreOptions {
  /** How long a lookup is reused while PostgreSQL answers (default 10 s). */
  cacheTtlMs?: number;
  /**
   * How long after its last successful lookup a valid key is still accepted while PostgreSQL is down
   * (default 60 s): probes and scrapes keep working through a short outage, and a key revoked just before
   * it works no longer than this.
   */
  staleMs?: number;
  /** A lookup slower than this counts as PostgreSQL being down (default 3 s). */
  lookupTimeoutMs?: number;
  now?: () => number;
}

const MAX_CACHED_KEYS = 10_000;

export class ApiKeyStore {
  readonly #pool: pg.Pool;
  /** A hit saves a query per request; the short TTL bounds how long a revoked key keeps working. */
  readonly #cache = new Map<string, { at: number; principal: ApiKeyPrincipal | undefined }>();
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #lookupTimeoutMs: number;
  readonly #now: () => number;

  constructor(pool: pg.Pool, options: ApiKeyStoreOptions = {}) {
    this.#pool = pool;
    this.#ttlMs = options.cacheTtlMs ?? 10_000;
    this.#staleMs = Math.max(this.#ttlMs, options.staleMs ?? 60_000);
    this.#lookupTimeoutMs = options.lookupTimeoutMs ?? 3_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Creates a key (in `client`'s transaction when given, so its audit row commits with it); the returned
   * `key` is the only time it exists outside the caller.
   */
  async create(role: Role, name: string, client: pg.Pool | pg.ClientBase = this.#pool): Promise<{ id: string; key: string; role: Role; name: string }> {
    if (!isRole(role)) throw InputError(`/role: must be one of ${ROLES.join(', ')}`);
    if (name.length === 0 || name.length > 200) throw InputError('/name: 1-200 characters');
    const key = `slk_${randomBytes(32).toString('base64url')}`;
    // The id is derived from the key's hash: shown in lists and audit rows, it says nothing about the key.
    const id = hashKey(`id:${key}`).slice(0, 12);
    await client.query('INSERT INTO api_keys (id, key_hash, role, name) VALUES ($1, $2, $3, $4)', [id, hashKey(key), role, name]);
    return { id, key, role, name };
  }

  async list(): Promise<ApiKeyView[]> {
    const rows = await this.#pool.query<ApiKeyRow>('SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at, id');
    return rows.rows.map(keyView);
  }

  /**
   * Revokes a key in `client`'s transaction. This process forgets it at once; another process stops
   * accepting it within the cache TTL (10 s by default).
   */
  async revoke(client: pg.ClientBase, id: string): Promise<{ before: ApiKeyView; after: ApiKeyView }> {
    const found = await client.query<ApiKeyRow & { key_hash: string }>('SELECT id, name, role, created_at, revoked_at, key_hash FROM api_keys WHERE id = $1 FOR UPDATE', [id]);
    const row = found.rows[0];
    if (!row) throw NotFoundError(`no API key ${id}`);
    const updated = await client.query<ApiKeyRow>('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING id, name, role, created_at, revoked_at', [id]);
    this.#cache.delete(row.key_hash);
    return { before: keyView(row), after: keyView(updated.rows[0]!) };
  }

  /** Stores the bootstrap admin key's hash on first start; later starts leave the stored key as it is. */
  async bootstrapAdmin(key: string): Promise<boolean> {
    if (key.length < 16) throw InputError('SLUICE_ADMIN_KEY must be at least 16 characters');
    const result = await this.#pool.query(
      `INSERT INTO api_keys (id, key_hash, role, name) VALUES ('bootstrap-admin', $1, 'admin', 'bootstrap admin (SLUICE_ADMIN_KEY)')
       ON CONFLICT DO NOTHING`,
      [hashKey(key)],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * The viewer key Prometheus and health probes send (SLUICE_METRICS_KEY). Unlike the admin key, the
   * environment is authoritative: tooling regenerates this key's file freely (`npm start`), so each start
   * stores the current hash. A revoked key stays revoked.
   */
  async bootstrapMetrics(key: string): Promise<void> {
    if (key.length < 16) throw InputError('SLUICE_METRICS_KEY must be at least 16 characters');
    await this.#pool.query(
      `INSERT INTO api_keys (id, key_hash, role, name) VALUES ('bootstrap-metrics', $1, 'viewer', 'metrics and probes (SLUICE_METRICS_KEY)')
       ON CONFLICT (id) DO UPDATE SET key_hash = EXCLUDED.key_hash`,
      [hashKey(key)],
    );
    this.#cache.clear();
  }

  /**
   * The key's principal, undefined for an unknown or revoked key. Throws UnavailableError when PostgreSQL
   * cannot answer and the key was not verified within the stale bound: "cannot tell" is not "no".
   */
  async verify(key: string): Promise<ApiKeyPrincipal | undefined> {
    const hash = hashKey(key);
    const cached = this.#cache.get(hash);
    const age = cached === undefined ? Infinity : this.#now() - cached.at;
    if (cached && age < this.#ttlMs) return cached.principal;
    let row: { id: string; name: string; role: Role } | undefined;
    try {
      row = await this.#lookup(hash);
    } catch (error) {
      if (!isDependencyDown(error)) throw error;
      // Only a key known to be valid is served stale; an unknown one might have been created since.
      if (cached?.principal && age < this.#staleMs) return cached.principal;
      throw UnavailableError('cannot verify the API key: PostgreSQL is unavailable', { retryAfterSeconds: 5 }, { cause: error });
    }
    const principal: ApiKeyPrincipal | undefined = row ? { kind: 'apiKey', id: row.id, name: row.name, role: row.role } : undefined;
    if (this.#cache.size >= MAX_CACHED_KEYS) this.#cache.clear();
    this.#cache.set(hash, { at: this.#now(), principal });
    return principal;
  }

  async #lookup(hash: string): Promise<{ id: string; name: string; role: Role } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(UnavailableError(`PostgreSQL did not answer the key lookup within ${this.#lookupTimeoutMs} ms`)), this.#lookupTimeoutMs);
      timer.unref();
    });
    try {
      const query = this.#pool.query<{ id: string; name: string; role: Role }>('SELECT id, name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [hash]);
      // A query abandoned by the timeout still settles later; its rejection must not go unhandled.
      query.catch(() => undefined);
      return (await Promise.race([query, timeout])).rows[0];
    } finally {
      clearTimeout(timer);
    }
  }
}
