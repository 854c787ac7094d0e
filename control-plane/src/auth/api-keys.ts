/**
 * API keys: 32 random bytes shown once, stored only as their sha256. A key carries one role; roles are
 * ordered viewer < operator < admin and a route names the least role it needs.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { InputError, UnavailableError, isDependencyDown } from '@sluice/shared/errors';

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

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
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
  readonly #cache = new Map<string, { at: number; principal: Principal | undefined }>();
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

  /** Creates a key; the returned `key` is the only time it exists outside the caller. */
  async create(role: Role, name: string): Promise<{ id: string; key: string; role: Role }> {
    if (!isRole(role)) throw InputError(`role must be one of ${ROLES.join(', ')}`);
    const key = `slk_${randomBytes(32).toString('base64url')}`;
    const id = randomBytes(6).toString('hex');
    await this.#pool.query('INSERT INTO api_keys (id, key_hash, role, name) VALUES ($1, $2, $3, $4)', [id, hashKey(key), role, name]);
    return { id, key, role };
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
  async verify(key: string): Promise<Principal | undefined> {
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
    const principal = row ? { keyId: row.id, name: row.name, role: row.role } : undefined;
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
