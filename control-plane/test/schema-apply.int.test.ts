/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- inject().json() is untyped; the assertions check its shape */
/** POST /api/v1/schema/compare and POST /api/v1/schema/versions/{id}/apply against a real PostgreSQL table and a real OpenSearch index. */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { loadConfig } from '../src/config.ts';
import { PostgresSink } from '../src/sinks/postgres/postgres-sink.ts';
import { searchSinkConfig } from '../src/sinks/registry.ts';
import { SearchSink } from '../src/sinks/search/search-sink.ts';
import { batch, dataset, envelope } from './support/sink-fixtures.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const dataSchema = `sa_data_${suffix()}`;
let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;
let pgSink: PostgresSink;
const search = searchSinkConfig(loadConfig());
const searchSink = new SearchSink({ ...search, template: { replicas: 0 } });
const searchIndex = `sa-search-${suffix()}`;
const searchSpec = { name: 'sa_search', sinks: { search: { enabled: true, index: searchIndex } } };
const ADMIN = 'bootstrap-admin-key-for-schema-apply-0123456789';
let viewer = '';
let operator = '';

const v1 = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } };
// Widened temperature, a new optional site, device made optional: compatible, needs no force.
const v2 = { type: 'object', properties: { device: { type: 'string' }, temperature: { type: ['number', 'string', 'null'] }, site: { type: 'string' } } };

beforeAll(async () => {
  state = await freshState(dataSchema);
  pgSink = new PostgresSink({ connectionString: stackEnv.pgUrl, schema: dataSchema, poolSize: 2 });
  // Versions are published without preparing the stores, so that apply is what adds the columns.
  const publisher = new DatasetStore(state.pool);
  await publisher.create({ name: 'sa_readings', sinks: { postgres: { enabled: true } } }, v1);
  await pgSink.prepare({ spec: { name: 'sa_readings', sinks: { postgres: { enabled: true } } }, version: 1, schema: v1 });
  await publisher.addVersion('sa_readings', v2, false, { actor: { kind: 'system', id: 'test' } });
  // A search dataset whose index already holds a v1 document: apply must extend that index's mapping.
  await publisher.create(searchSpec, v1);
  expect((await searchSink.write(batch(dataset('sa_search', v1, 1, searchSpec.sinks), [envelope('sa_search', 'sa:1', { device: 'd1', temperature: 20 }, '2026-03-01T10:00:00Z')]))).kind).toBe('ok');
  await publisher.addVersion('sa_search', v2, false, { actor: { kind: 'system', id: 'test' } });
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  viewer = (await apiKeys.create('viewer', 'schema viewer')).key;
  operator = (await apiKeys.create('operator', 'schema operator')).key;
  const datasets = new DatasetStore(state.pool, {
    prepare: async (d) => [
      ...(d.spec.sinks.postgres?.enabled === true ? [{ sink: 'postgres', outcome: await pgSink.prepare(d) }] : []),
      ...(d.spec.sinks.search?.enabled === true ? [{ sink: 'search', outcome: await searchSink.prepare(d) }] : []),
    ],
  });
  server = await testServer(state.pool, { datasets, apiKeys, dataSchema });
  app = server.app;
});

afterAll(async () => {
  await searchSink.deleteDatasetIndices(dataset('sa_search', v1, 1, searchSpec.sinks)).catch(() => undefined);
  await searchSink.close();
  await pgSink?.close();
  await server?.close();
  await state?.drop();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });

async function columns(): Promise<Record<string, string>> {
  const { rows } = await state.pool.query<{ column_name: string; data_type: string }>(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
    [dataSchema, 'sa_readings'],
  );
  return Object.fromEntries(rows.map((r) => [r.column_name, r.data_type]));
}

describe('schema compare and apply', () => {
  it('compares two stored versions: a widened type and a new optional field are backward compatible', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/schema/compare', headers: as(viewer), payload: { dataset: 'sa_readings', from: { version: 1 }, to: { version: 2 } } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ dataset: 'sa_readings', from: { version: 1 }, to: { version: 2 }, compatible: true, backward: true, forward: false });
    const byPath = Object.fromEntries((body.changes as Array<{ path: string; type: string }>).map((c) => [`${c.type}:${c.path}`, c]));
    expect(byPath['CHANGE_TYPE:temperature']).toMatchObject({ compatible: true, backward: true, forward: false, from: 'number', to: 'null|number|string' });
    expect(byPath['ADD_COLUMN:site']).toMatchObject({ compatible: true, backward: true, forward: true });
    expect(byPath['MAKE_OPTIONAL:device']).toMatchObject({ compatible: true, backward: true, forward: false });
  });

  it('compares a version with a proposed schema: a narrowed type and a dropped field are not compatible', async () => {
    const proposed = { type: 'object', properties: { device: { type: 'integer' } } };
    const res = await app.inject({ method: 'POST', url: '/api/v1/schema/compare', headers: as(viewer), payload: { dataset: 'sa_readings', from: { version: 2 }, to: { schema: proposed } } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ to: { version: null }, compatible: false, backward: false });
    const types = (res.json().changes as Array<{ type: string; path: string }>).map((c) => `${c.type}:${c.path}`).sort();
    expect(types).toEqual(['CHANGE_TYPE:device', 'DROP_COLUMN:site', 'DROP_COLUMN:temperature']);
  });

  it('answers an unknown version or an invalid proposed schema permanently', async () => {
    const missing = await app.inject({ method: 'POST', url: '/api/v1/schema/compare', headers: as(viewer), payload: { dataset: 'sa_readings', from: { version: 1 }, to: { version: 9 } } });
    expect(missing.statusCode).toBe(404);
    const invalid = await app.inject({ method: 'POST', url: '/api/v1/schema/compare', headers: as(viewer), payload: { dataset: 'sa_readings', from: { version: 1 }, to: { schema: { type: 'nonsense' } } } });
    expect(invalid.statusCode).toBe(400);
    const badId = await app.inject({ method: 'POST', url: '/api/v1/schema/versions/sa_readings-2/apply', headers: as(operator) });
    expect(badId.statusCode).toBe(400);
  });

  it('applies a version: adds the PostgreSQL columns, records the Parquet columns, is audited; a viewer may not', async () => {
    expect(Object.keys(await columns())).not.toContain('site');
    const denied = await app.inject({ method: 'POST', url: '/api/v1/schema/versions/sa_readings@2/apply', headers: as(viewer) });
    expect(denied.statusCode).toBe(403);
    const res = await app.inject({ method: 'POST', url: '/api/v1/schema/versions/sa_readings@2/apply', headers: as(operator) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.postgres).toMatchObject({ applied: true, table: `${dataSchema}.sa_readings`, added: [{ column: 'site', type: 'text' }], kept: [], outcome: 'ok' });
    expect(body.search).toMatchObject({ applied: false });
    expect((body.parquet.columns as Array<{ name: string }>).map((c) => c.name)).toEqual(expect.arrayContaining(['_id', 'device', 'site', 'temperature']));
    expect(await columns()).toMatchObject({ site: 'text' });
    const audit = await state.pool.query<{ action: string; target_id: string; after: { version: number } }>("SELECT action, target_id, after FROM audit_log WHERE action = 'schema.apply'");
    expect(audit.rows).toEqual([expect.objectContaining({ target_id: 'sa_readings', after: expect.objectContaining({ version: 2 }) })]);
    const stored = await state.pool.query<{ version: number }>('SELECT version FROM schema_applies WHERE dataset = $1', ['sa_readings']);
    expect(stored.rows.map((r) => r.version)).toEqual([2]);
    // Applying again changes nothing and says so.
    const again = await app.inject({ method: 'POST', url: '/api/v1/schema/versions/sa_readings@2/apply', headers: as(operator) });
    expect(again.json().postgres.added).toEqual([]);
  });

  it('applies a version to the search index: the existing index gets the new field mapped, audited', async () => {
    const index = `${searchIndex}-2026.03.01`;
    const payloadFields = async (): Promise<Record<string, { type: string }>> => {
      const body = (await (await fetch(`${search.url}/${index}/_mapping`)).json()) as Record<string, { mappings: { properties: { payload: { properties: Record<string, { type: string }> } } } }>;
      return body[index]!.mappings.properties.payload.properties;
    };
    expect(Object.keys(await payloadFields())).not.toContain('site');
    const res = await app.inject({ method: 'POST', url: '/api/v1/schema/versions/sa_search@2/apply', headers: as(operator) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ dataset: 'sa_search', version: 2, postgres: { applied: false }, search: { applied: true, outcome: 'ok' } });
    // temperature is a union in v2: left to dynamic mapping, so not among the mapped fields.
    expect(res.json().search.fields).toEqual(['device', 'site']);
    expect((await payloadFields()).site).toMatchObject({ type: 'keyword' });
    const audit = await state.pool.query<{ after: { version: number; search?: { applied: boolean } } }>("SELECT after FROM audit_log WHERE action = 'schema.apply' AND target_id = 'sa_search'");
    expect(audit.rows).toEqual([{ after: expect.objectContaining({ version: 2, search: expect.objectContaining({ applied: true }) }) }]);
  });
});
