/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- inject().json() is untyped; the assertions check its shape */
/** GET /api/v1/analytics/{dataset}/records against rows the real PostgreSQL sink wrote. */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { PostgresSink } from '../src/sinks/postgres/postgres-sink.ts';
import { batch, dataset, envelope } from './support/sink-fixtures.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const dataSchema = `ar_data_${suffix()}`;
const schema = { type: 'object', properties: { site: { type: 'string' }, temp: { type: 'number' }, n: { type: 'integer' }, ok: { type: 'boolean' }, tags: { type: 'array' } } };
const sinks = { postgres: { enabled: true } };
let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;
let sink: PostgresSink;
let viewer = '';

const START = Date.parse('2026-05-01T12:00:00Z');

beforeAll(async () => {
  state = await freshState(dataSchema);
  sink = new PostgresSink({ connectionString: stackEnv.pgUrl, schema: dataSchema, poolSize: 2 });
  const datasets = new DatasetStore(state.pool);
  await datasets.create({ name: 'ar_readings', sinks }, schema);
  await datasets.create({ name: 'ar_nopg', sinks: {} }, schema);
  const ds = dataset('ar_readings', schema, 1, sinks);
  expect((await sink.prepare(ds)).kind).toBe('ok');
  // 60 records, one a second, three sites.
  const envelopes = Array.from({ length: 60 }, (_, i) => envelope('ar_readings', `ar:${String(i).padStart(2, '0')}`, { site: ['a', 'b', 'c'][i % 3], temp: i / 2, n: i, ok: i % 2 === 0, tags: [i] }, new Date(START + i * 1000).toISOString()));
  expect((await sink.write(batch(ds, envelopes))).kind).toBe('ok');
  // Sub-millisecond event times: a cursor cut to milliseconds would skip or repeat rows.
  await state.pool.query(`UPDATE ${dataSchema}.ar_readings SET event_time = event_time + interval '1 microsecond' * (payload->>'n')::int`);
  const apiKeys = new ApiKeyStore(state.pool);
  viewer = (await apiKeys.create('viewer', 'records viewer')).key;
  server = await testServer(state.pool, { datasets, apiKeys, dataSchema });
  app = server.app;
});

afterAll(async () => {
  await sink?.close();
  await server?.close();
  await state?.drop();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${viewer}` } });
const range = `from=${new Date(START).toISOString()}&to=${new Date(START + 3_600_000).toISOString()}`;

describe('records query', () => {
  it('answers records in event-time order and pages through all of them exactly once', async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/api/v1/analytics/ar_readings/records?${range}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      ids.push(...(res.json().items as Array<{ id: string }>).map((r) => r.id));
      cursor = res.json().nextCursor as string | null;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(9);
    expect(ids).toEqual(Array.from({ length: 60 }, (_, i) => `ar:${String(i).padStart(2, '0')}`));
    const first = (await get(`/api/v1/analytics/ar_readings/records?${range}&limit=1`)).json().items[0];
    expect(first).toEqual({ id: 'ar:00', eventTime: new Date(START).toISOString(), ingestTime: expect.any(String), agentId: 'agent-1', payload: { site: 'a', temp: 0, n: 0, ok: true, tags: [0] } });
  });

  it('filters on typed columns of each type, all filters together', async () => {
    const res = await get(`/api/v1/analytics/ar_readings/records?${range}&filter=site:eq:b&filter=temp:ge:10&filter=n:lt:40&filter=ok:eq:false&limit=100`);
    expect(res.statusCode, res.body).toBe(200);
    const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 === 1 && i / 2 >= 10 && i < 40 && i % 2 === 1);
    expect((res.json().items as Array<{ payload: { n: number } }>).map((r) => r.payload.n)).toEqual(expected);
    const narrow = await get(`/api/v1/analytics/ar_readings/records?from=${new Date(START + 10_000).toISOString()}&to=${new Date(START + 12_000).toISOString()}`);
    expect((narrow.json().items as Array<{ payload: { n: number } }>).map((r) => r.payload.n)).toEqual([10, 11]);
    expect((await get(`/api/v1/analytics/ar_readings/records?${range}&filter=agent_id:eq:agent-2`)).json().items).toEqual([]);
  });

  it('refuses what it cannot answer with a clear 400 or 404', async () => {
    const cases: Array<[string, number, RegExp]> = [
      [`filter=nope:eq:1`, 400, /no typed column "nope"/],
      [`filter=n:eq:1.5`, 400, /not an integer/],
      [`filter=temp:gt:hot`, 400, /not a number/],
      [`filter=ok:eq:yes`, 400, /not true or false/],
      [`filter=tags:eq:1`, 400, /cannot be filtered on/],
      [`filter=site:like:a`, 400, /filter/],
      [`cursor=bm90LWEtY3Vyc29y`, 400, /cursor/],
    ];
    for (const [query, status, message] of cases) {
      const res = await get(`/api/v1/analytics/ar_readings/records?${range}&${query}`);
      expect(res.statusCode, query).toBe(status);
      expect(res.json().error.message, query).toMatch(message);
    }
    expect((await get(`/api/v1/analytics/ar_readings/records?from=${new Date(START).toISOString()}&to=${new Date(START).toISOString()}`)).statusCode).toBe(400);
    expect((await get('/api/v1/analytics/ar_nopg/records')).statusCode).toBe(404);
    expect((await get('/api/v1/analytics/ar_missing/records')).statusCode).toBe(404);
  });
});
