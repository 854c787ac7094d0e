import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isSluiceError } from '@sluice/shared/errors';
import { ApiKeyStore, hashKey } from './api-keys.ts';

/** Stands in for the pool's one query: answers from `rows` while `up`, else fails as a refused connection does. */
function fakePool(rows: Map<string, { id: string; name: string; role: string }>) {
  const state = { up: true, queries: 0 };
  const pool = {
    query: (_sql: string, [hash]: [string]) => {
      state.queries++;
      if (!state.up) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
      const row = rows.get(hash);
      return Promise.resolve({ rows: row ? [row] : [] });
    },
  } as unknown as pg.Pool;
  return { pool, state };
}

describe('ApiKeyStore.verify while PostgreSQL is away', () => {
  const rows = new Map([[hashKey('good-key'), { id: 'k1', name: 'probe', role: 'viewer' }]]);

  it('serves a key verified in the last minute, then answers Unavailable (never "unknown key")', async () => {
    const { pool, state } = fakePool(rows);
    let now = 1_000_000;
    const keys = new ApiKeyStore(pool, { cacheTtlMs: 10_000, staleMs: 60_000, now: () => now });
    expect(await keys.verify('good-key')).toEqual({ kind: 'apiKey', id: 'k1', name: 'probe', role: 'viewer' });
    state.up = false;
    now += 30_000;
    expect(await keys.verify('good-key')).toMatchObject({ id: 'k1' });
    expect(state.queries).toBe(2);
    now += 31_000;
    const late = await keys.verify('good-key').catch((e: unknown) => e);
    expect(isSluiceError(late, 'UnavailableError')).toBe(true);
    // A key never seen cannot be told apart from a new one: Unavailable, not Unauthorized.
    expect(isSluiceError(await keys.verify('new-key').catch((e: unknown) => e), 'UnavailableError')).toBe(true);
  });

  it('does not serve a known-bad key as good, and re-checks once PostgreSQL is back', async () => {
    const { pool, state } = fakePool(rows);
    let now = 0;
    const keys = new ApiKeyStore(pool, { cacheTtlMs: 10_000, now: () => now });
    expect(await keys.verify('revoked')).toBeUndefined();
    state.up = false;
    now += 5_000;
    expect(await keys.verify('revoked')).toBeUndefined();
    now += 10_000;
    expect(isSluiceError(await keys.verify('revoked').catch((e: unknown) => e), 'UnavailableError')).toBe(true);
    state.up = true;
    expect(await keys.verify('good-key')).toMatchObject({ role: 'viewer' });
  });

  it('treats a lookup that hangs as PostgreSQL being down', async () => {
    const pool = { query: () => new Promise(() => undefined) } as unknown as pg.Pool;
    const keys = new ApiKeyStore(pool, { lookupTimeoutMs: 50 });
    expect(isSluiceError(await keys.verify('good-key').catch((e: unknown) => e), 'UnavailableError')).toBe(true);
  });

  it('rethrows what is not an outage (a bug stays a bug)', async () => {
    const pool = { query: () => Promise.reject(Object.assign(new Error('relation "api_keys" does not exist'), { code: '42P01' })) } as unknown as pg.Pool;
    await expect(new ApiKeyStore(pool).verify('k')).rejects.toThrow(/does not exist/);
  });
});
