/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- inject().json() is untyped; the assertions are what check its shape */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { KafkaConsumer, KafkaProducer } from '@sluice/shared/node/kafka';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import type { Envelope } from '@sluice/shared/envelope';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { testServer } from './support/test-server.ts';
import { MemorySink } from './support/memory-sink.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';

let app: FastifyInstance;
let state: Awaited<ReturnType<typeof freshState>>;
let pool: pg.Pool;
let producer: KafkaProducer;
const prepared = new MemorySink('postgres');
const keys: Record<'viewer' | 'operator' | 'admin', string> = { viewer: '', operator: '', admin: 'bootstrap-admin-key-for-tests-0123456789' };
const prefix = testTopicPrefix(`http${suffix()}`);

const schemaV1 = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } };

beforeAll(async () => {
  state = await freshState();
  pool = state.pool;
  const apiKeys = new ApiKeyStore(pool);
  await apiKeys.bootstrapAdmin(keys.admin);
  keys.viewer = (await apiKeys.create('viewer', 'v')).key;
  keys.operator = (await apiKeys.create('operator', 'o')).key;
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'http-int-test' });
  app = (await testServer(pool, {
    datasets: new DatasetStore(pool, { prepare: async (d) => [{ sink: 'postgres', outcome: await prepared.prepare(d) }] }),
    apiKeys,
    produce: (m) => producer.send(m),
    produceOne: (m) => producer.sendOne(m),
    topicPrefix: prefix,
    maxRecordBytes: 4096,
    bodyLimitBytes: 64 * 1024,
  })).app;
});

afterAll(async () => {
  await app?.close();
  await producer?.close();
  await state?.drop();
});

const auth = (role: keyof typeof keys) => ({ authorization: `Bearer ${keys[role]}` });

describe('REST API against PostgreSQL and Kafka', () => {
  it('refuses requests without a key (401) and writes by a viewer (403), in the one error shape', async () => {
    const none = await app.inject({ method: 'GET', url: '/api/v1/datasets' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ error: { name: 'UnauthorizedError', message: expect.any(String) } });
    const wrong = await app.inject({ method: 'GET', url: '/api/v1/datasets', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    const viewerWrite = await app.inject({ method: 'POST', url: '/api/v1/datasets', headers: auth('viewer'), payload: { name: 'x', sinks: {}, schema: {} } });
    expect(viewerWrite.statusCode).toBe(403);
    expect(viewerWrite.json().error.name).toBe('ForbiddenError');
    expect((await app.inject({ method: 'GET', url: '/api/v1/datasets', headers: auth('viewer') })).statusCode).toBe(200);
  });

  it('creates, lists and gets datasets; rejects a bad body with 400 and a duplicate with 409', async () => {
    const body = { name: 'sensors', sinks: { postgres: { enabled: true }, objectStore: { enabled: true } }, schema: schemaV1 };
    const created = await app.inject({ method: 'POST', url: '/api/v1/datasets', headers: auth('operator'), payload: body });
    expect(created.statusCode).toBe(201);
    expect(created.json().dataset).toMatchObject({ spec: { name: 'sensors', sinks: { objectStore: { enabled: true, partitionBy: 'hour' } } }, latestVersion: 1 });
    expect(prepared.prepared.at(-1)).toMatchObject({ version: 1, spec: { name: 'sensors' } });
    const dup = await app.inject({ method: 'POST', url: '/api/v1/datasets', headers: auth('admin'), payload: body });
    expect(dup.statusCode).toBe(409);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/datasets', headers: auth('admin'), payload: { name: 'Bad Name', sinks: {}, schema: {} } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ name: 'InputError', details: [expect.objectContaining({ path: '/name' })] });
    const list = await app.inject({ method: 'GET', url: '/api/v1/datasets', headers: auth('viewer') });
    expect(list.json().items.map((d: { spec: { name: string } }) => d.spec.name)).toEqual(['sensors']);
    const missing = await app.inject({ method: 'GET', url: '/api/v1/datasets/nothere', headers: auth('viewer') });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.name).toBe('NotFoundError');
  });

  it('publishes a compatible version, refuses an incompatible one with 409 and the report, accepts it with ?force', async () => {
    const v2 = { ...schemaV1, properties: { ...schemaV1.properties, humidity: { type: 'number' } } };
    const ok = await app.inject({ method: 'POST', url: '/api/v1/datasets/sensors/versions', headers: auth('operator'), payload: { schema: v2 } });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ version: 2, compatibility: { compatible: true, changes: [{ type: 'ADD_COLUMN', path: 'humidity' }] } });
    expect(prepared.prepared.at(-1)).toMatchObject({ version: 2 });

    const v3 = { ...v2, properties: { device: { type: 'string' }, temperature: { type: 'string' } } };
    const refused = await app.inject({ method: 'POST', url: '/api/v1/datasets/sensors/versions', headers: auth('operator'), payload: { schema: v3 } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({
      name: 'ConflictError',
      details: { compatible: false, changes: expect.arrayContaining([expect.objectContaining({ type: 'CHANGE_TYPE', path: 'temperature' }), expect.objectContaining({ type: 'DROP_COLUMN', path: 'humidity' })]) },
    });
    const viewerForce = await app.inject({ method: 'POST', url: '/api/v1/datasets/sensors/versions?force=true', headers: auth('viewer'), payload: { schema: v3 } });
    expect(viewerForce.statusCode).toBe(403);
    const forced = await app.inject({ method: 'POST', url: '/api/v1/datasets/sensors/versions?force=true', headers: auth('operator'), payload: { schema: v3 } });
    expect(forced.statusCode).toBe(201);
    expect(forced.json().version).toBe(3);
    const versions = await pool.query('SELECT version FROM dataset_versions WHERE dataset = $1 ORDER BY version', ['sensors']);
    expect(versions.rows.map((r: { version: number }) => r.version)).toEqual([1, 2, 3]);
    await expect(pool.query("UPDATE dataset_versions SET schema = '{}' WHERE dataset = 'sensors'")).rejects.toThrow(/immutable/);
  });

  it('ingests a JSON array and NDJSON: valid items go to Kafka as envelopes, invalid ones are reported per item', async () => {
    await app.inject({
      method: 'POST',
      url: '/api/v1/datasets',
      headers: auth('operator'),
      payload: { name: 'meters', sinks: { postgres: { enabled: true } }, schema: schemaV1 },
    });
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest/meters',
      headers: { ...auth('operator'), 'idempotency-key': 'req-1' },
      payload: [{ device: 'a', temperature: 1 }, { device: 'b', temperature: 'hot' }, { temperature: 3 }, { device: 'd' }],
    });
    expect(res.statusCode).toBe(200);
    const out = res.json();
    expect(out).toMatchObject({ requestId: 'req-1', errors: true, accepted: 2, rejected: 2 });
    expect(out.items[1]).toEqual({ index: 1, status: 'rejected', reason: 'does not match schema version 1: /temperature: must be number' });
    expect(out.items[2].reason).toMatch(/must have required property 'device'/);

    const nd = await app.inject({
      method: 'POST',
      url: '/api/v1/ingest/meters',
      headers: { ...auth('operator'), 'content-type': 'application/x-ndjson', 'idempotency-key': 'req-2' },
      payload: '{"device":"e"}\nnot json\n{"device":"f","temperature":2.5}\n',
    });
    expect(nd.json()).toMatchObject({ accepted: 2, rejected: 1, items: [{ status: 'accepted' }, { status: 'rejected', reason: expect.stringMatching(/^line 2 is not JSON/) }, { status: 'accepted' }] });

    const viewer = await app.inject({ method: 'POST', url: '/api/v1/ingest/meters', headers: auth('viewer'), payload: [{ device: 'x' }] });
    expect(viewer.statusCode).toBe(403);
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/ingest/nothere', headers: auth('operator'), payload: [{ device: 'x' }] });
    expect(unknown.statusCode).toBe(404);
    const tooBig = await app.inject({ method: 'POST', url: '/api/v1/ingest/meters', headers: auth('operator'), payload: [{ device: 'x'.repeat(70 * 1024) }] });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().error.name).toBe('PayloadTooLargeError');

    const consumer = new KafkaConsumer({ brokers: stackEnv.kafkaBrokers, clientId: 'http-int-check', groupId: `check-${suffix()}`, topics: [`${prefix}meters`] });
    const seen: Envelope[] = [];
    try {
      for await (const m of consumer.messages()) {
        seen.push(JSON.parse(m.value.toString()) as Envelope);
        expect(m.headers).toMatchObject({ dataset: 'meters', 'schema-version': '1', 'content-type': 'application/vnd.sluice.envelope+json' });
        if (seen.length === 4) break;
      }
    } finally {
      await consumer.close();
    }
    expect(seen.map((e) => e.payload).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { device: 'a', temperature: 1 },
      { device: 'd' },
      { device: 'e' },
      { device: 'f', temperature: 2.5 },
    ]);
    expect(seen.map((e) => e.id)).toContain('control-plane:ingest-api:h:req-1:0');
  });

  it('lists and replays DLQ entries, and reports health', async () => {
    await pool.query(
      `INSERT INTO dlq (dataset, record_id, topic, partition, "offset", reason, original, headers) VALUES ('meters', 'r1', $1, 0, 42, 'unknown dataset x', $2, '{"dataset":"meters","dlq-reason":"x"}')`,
      [`${prefix}meters`, Buffer.from('{"poison":true}')],
    );
    const list = await app.inject({ method: 'GET', url: '/api/v1/dlq?dataset=meters&limit=10', headers: auth('viewer') });
    expect(list.statusCode).toBe(200);
    const entry = list.json().items[0];
    expect(list.json().total).toBe(1);
    expect(entry).toMatchObject({ reason: 'unknown dataset x', offset: '42', originalText: '{"poison":true}', replayedAt: null });
    expect((await app.inject({ method: 'POST', url: `/api/v1/dlq/${entry.id}/replay`, headers: auth('viewer') })).statusCode).toBe(403);
    const replay = await app.inject({ method: 'POST', url: `/api/v1/dlq/${entry.id}/replay`, headers: auth('operator') });
    expect(replay.statusCode).toBe(200);
    expect(replay.json().replayedAt).not.toBeNull();
    expect((await app.inject({ method: 'POST', url: '/api/v1/dlq/999999/replay', headers: auth('operator') })).statusCode).toBe(404);

    const health = await app.inject({ method: 'GET', url: '/api/v1/health', headers: auth('viewer') });
    expect(health.json()).toMatchObject({ dlq: { size: 0 }, consumerLag: [] });
    expect((await app.inject({ method: 'GET', url: '/healthz', headers: auth('viewer') })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz', headers: auth('viewer') })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const metrics = await app.inject({ method: 'GET', url: '/metrics', headers: auth('viewer') });
    expect(metrics.body).toContain('failed_validations_total{dataset="meters"} 3');
    expect(metrics.body).toContain('sluice_dlq_size');
    expect((await app.inject({ method: 'GET', url: '/docs/json', headers: auth('viewer') })).json().paths).toHaveProperty('/api/v1/ingest/{dataset}');
  });
});
