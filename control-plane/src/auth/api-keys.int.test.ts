import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshState } from '../../test/support/state.ts';
import { ApiKeyStore, roleAllows, ROLES } from './api-keys.ts';

let state: Awaited<ReturnType<typeof freshState>>;
const sha256 = (key: string): string => createHash('sha256').update(key).digest('hex');

beforeAll(async () => {
  state = await freshState();
});
afterAll(async () => {
  await state?.drop();
});

describe('ApiKeyStore against PostgreSQL', () => {
  it('stores a created key only as its sha256 and finds it by that', async () => {
    const store = new ApiKeyStore(state.pool, { cacheTtlMs: 0 });
    const created = await store.create('operator', 'ops');
    expect(created.key).toMatch(/^slk_[A-Za-z0-9_-]{43}$/);
    const rows = await state.pool.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [created.id]);
    expect(JSON.stringify(rows.rows)).not.toContain(created.key);
    expect(rows.rows[0]?.key_hash).toBe(sha256(created.key));
    expect(await store.verify(created.key)).toEqual({ kind: 'apiKey', id: created.id, name: 'ops', role: 'operator' });
    expect(await store.verify(`${created.key}x`)).toBeUndefined();
  });

  it('keeps the first bootstrap admin key; the metrics key follows the environment and stays revoked once revoked', async () => {
    const store = new ApiKeyStore(state.pool, { cacheTtlMs: 0 });
    expect(await store.bootstrapAdmin('admin-key-one-0123456789')).toBe(true);
    expect(await store.bootstrapAdmin('admin-key-two-0123456789')).toBe(false);
    expect((await store.verify('admin-key-one-0123456789'))?.role).toBe('admin');
    expect(await store.verify('admin-key-two-0123456789')).toBeUndefined();

    await store.bootstrapMetrics('metrics-key-one-0123456789');
    expect(await store.verify('metrics-key-one-0123456789')).toMatchObject({ id: 'bootstrap-metrics', role: 'viewer' });
    await store.bootstrapMetrics('metrics-key-two-0123456789');
    expect(await store.verify('metrics-key-one-0123456789')).toBeUndefined();
    expect((await store.verify('metrics-key-two-0123456789'))?.role).toBe('viewer');

    await state.pool.query("UPDATE api_keys SET revoked_at = now() WHERE id = 'bootstrap-metrics'");
    await store.bootstrapMetrics('metrics-key-three-0123456789');
    expect(await store.verify('metrics-key-three-0123456789')).toBeUndefined();
    await expect(store.bootstrapMetrics('short')).rejects.toThrow(/at least 16 characters/);
  });

  it('orders roles viewer < operator < admin', () => {
    expect(ROLES).toEqual(['viewer', 'operator', 'admin']);
    expect(roleAllows('admin', 'viewer')).toBe(true);
    expect(roleAllows('operator', 'operator')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('operator', 'admin')).toBe(false);
  });
});
