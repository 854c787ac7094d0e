/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- inject().json() is untyped; the assertions check its shape */
/** GET/PUT/DELETE /api/v1/tables and GET /api/v1/tables/{name}/partitions against real PostgreSQL and MinIO. */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { loadConfig } from '../src/config.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { PartitionStats } from '../src/lake/partitions/partition-stats.ts';
import { objectStoreSinkConfig } from '../src/sinks/registry.ts';
import { ObjectStoreSink } from '../src/sinks/object-store/object-store-sink.ts';
import { batch, dataset, envelope, uniqueSuffix } from './support/sink-fixtures.ts';
import { testServer, type TestServer } from './support/test-server.ts';
import { freshState } from './support/state.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;
let sink: ObjectStoreSink;
const ADMIN = 'bootstrap-admin-key-for-lake-tables-0123456789';
let viewer = '';
let operator = '';

beforeAll(async () => {
  state = await freshState();
  const datasets = new DatasetStore(state.pool);
  await datasets.create({ name: 'ltorders', sinks: { objectStore: { enabled: true, partitionBy: 'hour', range: { field: 'amount', bounds: [0, 100] } } } }, { type: 'object' });
  await datasets.create({ name: 'ltpg', sinks: { postgres: { enabled: true } } }, { type: 'object' });
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  viewer = (await apiKeys.create('viewer', 'lake viewer')).key;
  operator = (await apiKeys.create('operator', 'lake operator')).key;
  server = await testServer(state.pool, { datasets, apiKeys });
  app = server.app;
  sink = new ObjectStoreSink({ ...objectStoreSinkConfig(loadConfig()), bucket: `lake-api-${uniqueSuffix()}`, stats: new PartitionStats({ pool: state.pool }) });
  const ds = dataset('ltorders', {}, 1, { objectStore: { enabled: true, partitionBy: 'hour', range: { field: 'amount', bounds: [0, 100] } } });
  const times = ['2026-06-01T10:00:00Z', '2026-06-01T11:00:00Z', '2026-06-02T09:00:00Z'];
  expect((await sink.write(batch(ds, Array.from({ length: 30 }, (_, i) => envelope('ltorders', `lt:${i}`, { amount: i * 7 }, times[i % 3])), 0n))).kind).toBe('ok');
});

afterAll(async () => {
  await sink.removeBucket().catch(() => undefined);
  await sink.close();
  await server.close();
  await state.drop();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('lake tables API', () => {
  it('lists datasets with the object-store sink as tables with spec and statistics', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/tables', headers: as(viewer) });
    expect(res.statusCode).toBe(200);
    const items = res.json().items as Array<{ name: string }>;
    expect(items.map((t) => t.name)).toEqual(['ltorders']);
    expect(res.json().items[0]).toMatchObject({ prefix: 'ltorders', partitions: 6, records: 30, description: null });
    expect(res.json().items[0].partitionSpec.map((f: { transform: string }) => f.transform)).toEqual(['day', 'hour', 'truncate[100]']);
  });

  it('pages and filters partitions', async () => {
    const first = await app.inject({ method: 'GET', url: '/api/v1/tables/ltorders/partitions?limit=4', headers: as(viewer) });
    expect(first.statusCode).toBe(200);
    expect(first.json().items).toHaveLength(4);
    const next = await app.inject({ method: 'GET', url: `/api/v1/tables/ltorders/partitions?limit=4&after=${encodeURIComponent(first.json().nextCursor as string)}`, headers: as(viewer) });
    expect(next.json()).toMatchObject({ nextCursor: null });
    const all = [...first.json().items, ...next.json().items] as Array<{ partition: string; records: number }>;
    expect(all.reduce((a, p) => a + p.records, 0)).toBe(30);
    expect(all.map((p) => p.partition)).toContain('dt=2026-06-01/hour=10/range=ge_100');
    const day = await app.inject({ method: 'GET', url: '/api/v1/tables/ltorders/partitions?prefix=dt%3D2026-06-02', headers: as(viewer) });
    expect((day.json().items as unknown[]).length).toBe(2);
    expect((await app.inject({ method: 'GET', url: '/api/v1/tables/ltpg/partitions', headers: as(viewer) })).statusCode).toBe(404);
  });

  it('PUT changes description and compaction settings only (operator), audited; DELETE soft-deletes', async () => {
    expect((await app.inject({ method: 'PUT', url: '/api/v1/tables/ltorders', headers: as(viewer), payload: { description: 'x' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/tables/ltorders', headers: as(operator), payload: { prefix: 'elsewhere' } })).statusCode).toBe(400);
    const put = await app.inject({ method: 'PUT', url: '/api/v1/tables/ltorders', headers: as(operator), payload: { description: 'orders lake', compaction: { closedAfterMinutes: 30 } } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ description: 'orders lake', compaction: { closedAfterMinutes: 30 }, records: 30 });
    const del = await app.inject({ method: 'DELETE', url: '/api/v1/tables/ltorders', headers: as(operator) });
    expect(del.json()).toEqual({ name: 'ltorders', deleted: true });
    expect((await app.inject({ method: 'GET', url: '/api/v1/tables', headers: as(viewer) })).json().items).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/api/v1/tables/ltorders', headers: as(viewer) })).statusCode).toBe(404);
    const audit = await state.pool.query<{ action: string }>(`SELECT action FROM audit_log WHERE target_kind = 'table' ORDER BY id`);
    expect(audit.rows.map((r) => r.action)).toEqual(['table.update', 'table.delete']);
  });
});
