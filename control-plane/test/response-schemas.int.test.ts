/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- inject().json() and the OpenAPI document are untyped; the assertions are what check their shape */
/**
 * Response schemas (shared/src/api) against the real routes on PostgreSQL and Kafka. Fastify serializes a
 * response with its schema, which silently drops a field the schema lacks and fills in defaults; so every
 * answer the routes give here (successes and errors) is checked to arrive exactly as the handler built it,
 * and to match the schema it is documented with. The OpenAPI document at /docs must show those shapes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { KafkaProducer, listTopics } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { ValidatorCache, createAjv } from '../src/datasets/validators.ts';
import { buildServer } from '../src/http/server.ts';
import { ControlPlaneMetrics } from '../src/metrics/metrics.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';

const ADMIN = 'bootstrap-admin-key-for-response-tests-0123456789';
const prefix = testTopicPrefix(`resp${suffix()}`);
const schemaV1 = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } };

interface Answer {
  route: string;
  status: number;
  built: unknown;
  sent: unknown;
  problems: string;
}

let app: FastifyInstance;
let state: Awaited<ReturnType<typeof freshState>>;
let pool: pg.Pool;
let producer: KafkaProducer;
let operator = '';
let viewer = '';
const answers: Answer[] = [];
const pending = new Map<string, Omit<Answer, 'sent'>>();
const ajv = createAjv();

/** The schema a status is answered with: its own entry, else its class (`4xx`, `5xx`). */
function responseSchema(responses: Record<string, unknown> | undefined, status: number): object | undefined {
  return (responses?.[String(status)] ?? responses?.[`${String(status)[0]}xx`]) as object | undefined;
}

beforeAll(async () => {
  state = await freshState();
  pool = state.pool;
  const apiKeys = new ApiKeyStore(pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  operator = (await apiKeys.create('operator', 'o')).key;
  viewer = (await apiKeys.create('viewer', 'v')).key;
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'response-schemas-int' });
  app = await buildServer({
    pool,
    datasets: new DatasetStore(pool, { prepare: () => Promise.resolve([{ sink: 'postgres', outcome: { kind: 'failed', reason: 'table is owned by someone else' } }]) }),
    validators: new ValidatorCache(),
    apiKeys,
    metrics: new ControlPlaneMetrics(),
    logger: createLogger('response-schemas-test', { level: 'silent' }),
    produce: (m) => producer.send(m),
    produceOne: (m) => producer.sendOne(m),
    kafka: { ping: async () => void (await listTopics(stackEnv.kafkaBrokers)), lag: () => Promise.resolve([{ topic: `${prefix}x`, partition: 0, lag: 3 }]) },
    topicPrefix: prefix,
    maxRecordBytes: 4096,
    bodyLimitBytes: 64 * 1024,
  });
  // What the handler (or the error handler) built, before the schema's serializer sees it, and what was sent.
  app.addHook('preSerialization', async (request, reply, payload) => {
    const schema = responseSchema(request.routeOptions.schema?.response as Record<string, unknown> | undefined, reply.statusCode);
    const problems = schema === undefined ? 'no response schema' : ajv.validate(schema, payload) ? '' : ajv.errorsText(ajv.errors);
    pending.set(request.id, { route: `${request.method} ${request.routeOptions.url ?? request.url}`, status: reply.statusCode, built: JSON.parse(JSON.stringify(payload)), problems });
    return payload;
  });
  app.addHook('onSend', async (request, _reply, payload) => {
    const built = pending.get(request.id);
    pending.delete(request.id);
    if (built && typeof payload === 'string') answers.push({ ...built, sent: JSON.parse(payload) });
    return payload;
  });
});

afterAll(async () => {
  await app?.close();
  await producer?.close();
  await state?.drop();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('response schemas', () => {
  it('every answer of every route arrives as the handler built it and matches its documented schema', async () => {
    let calls = 0;
    const call = async (method: 'GET' | 'POST', url: string, key: string, payload?: unknown, headers: Record<string, string> = {}) => {
      calls += 1;
      return app.inject({ method, url, headers: { ...as(key), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
    };

    const created = await call('POST', '/api/v1/datasets', operator, {
      name: 'meters',
      description: 'gas meters',
      partitionKey: 'device',
      sinks: { postgres: { enabled: true, table: 'meter_rows' }, search: { enabled: true }, objectStore: { enabled: true, hash: { field: 'device', buckets: 4 } } },
      schema: { ...schemaV1, $comment: 'kept as sent', 'x-vendor': { nested: [1, null] } },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().prepared).toEqual([{ sink: 'postgres', outcome: 'failed', reason: 'table is owned by someone else' }]);
    expect(created.json().dataset.schema['x-vendor']).toEqual({ nested: [1, null] });
    expect((await call('POST', '/api/v1/datasets', operator, { name: 'meters', sinks: {}, schema: {} })).statusCode).toBe(409);
    expect((await call('POST', '/api/v1/datasets', operator, { name: 'Bad', sinks: {}, schema: {} })).statusCode).toBe(400);
    expect((await call('GET', '/api/v1/datasets', viewer)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/datasets/meters', viewer)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/datasets/nothere', viewer)).statusCode).toBe(404);
    const v2 = { ...schemaV1, properties: { ...schemaV1.properties, humidity: { type: 'number' } } };
    expect((await call('POST', '/api/v1/datasets/meters/versions', operator, { schema: v2 })).statusCode).toBe(201);
    const refused = await call('POST', '/api/v1/datasets/meters/versions', operator, { schema: { type: 'object', properties: { device: { type: 'number' } } } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.details.changes.length).toBeGreaterThan(0);

    const ingested = await call('POST', '/api/v1/ingest/meters', operator, [{ device: 'a' }, { device: 1 }], { 'idempotency-key': `resp-${suffix()}` });
    expect(ingested.json()).toMatchObject({ accepted: 1, rejected: 1, items: [{ status: 'accepted', id: expect.any(String) }, { status: 'rejected', reason: expect.any(String) }] });
    expect((await call('POST', '/api/v1/ingest/nothere', operator, [{ device: 'a' }])).statusCode).toBe(404);
    expect((await call('POST', '/api/v1/ingest/meters', viewer, [{ device: 'a' }])).statusCode).toBe(403);

    await pool.query(
      `INSERT INTO dlq (dataset, record_id, topic, partition, "offset", reason, original, headers) VALUES
         ('meters', 'r1', $1, 0, 42, 'does not match schema version 1: /device: must be string', $2, '{"dataset":"meters","dlq-reason":"x"}'),
         (NULL, NULL, $1, 1, 7, 'not a Sluice envelope', $3, '{}')`,
      [`${prefix}meters`, Buffer.from('{"device":1}'), Buffer.from([0xff, 0xfe, 0x00])],
    );
    const list = await call('GET', '/api/v1/dlq?limit=10', viewer);
    expect(list.json().items).toHaveLength(2);
    const [poison, entry] = list.json().items as Array<{ id: string; originalText?: string }>;
    expect(poison).not.toHaveProperty('originalText');
    expect(entry?.originalText).toBe('{"device":1}');
    expect((await call('GET', '/api/v1/dlq/counts', viewer)).json().total).toBe(2);
    expect((await call('GET', `/api/v1/dlq/${entry?.id}`, viewer)).json().replays).toEqual([]);
    expect((await call('GET', '/api/v1/dlq/999999', viewer)).statusCode).toBe(404);
    expect((await call('POST', `/api/v1/dlq/${entry?.id}/replay`, operator)).statusCode).toBe(200);
    const again = await call('POST', `/api/v1/dlq/${entry?.id}/replay`, operator);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.details.last).toMatchObject({ keyName: 'o', forced: false });
    expect((await call('POST', `/api/v1/dlq/${entry?.id}/replay`, operator, { force: true })).json().replays).toHaveLength(2);
    expect((await call('GET', `/api/v1/dlq/${entry?.id}`, viewer)).json().replays).toHaveLength(2);

    expect((await call('GET', '/api/v1/health?minutes=5', viewer)).json()).toMatchObject({ minutes: 5, consumerLag: [{ lag: 3 }] });
    expect((await call('GET', '/healthz', viewer)).json()).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz', viewer)).json()).toEqual({ status: 'ready' });
    expect((await call('GET', '/api/v1/datasets', 'not-a-key')).statusCode).toBe(401);

    // Each call was seen on its way out, so none escaped the checks below.
    expect(answers).toHaveLength(calls);
    for (const answer of answers) {
      expect({ route: answer.route, status: answer.status, body: answer.sent }).toEqual({ route: answer.route, status: answer.status, body: answer.built });
      expect({ route: answer.route, status: answer.status, problems: answer.problems }).toEqual({ route: answer.route, status: answer.status, problems: '' });
    }
  });

  it('the OpenAPI document at /docs shows the response shape of every API route, errors included', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json', headers: as(viewer) })).json();
    const operations = Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>).flatMap(
      ([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, responses: op.responses })),
    );
    // Each API operation and the success status it documents; a new route must be added here with its schema.
    const successOf: Record<string, string> = {
      'get /api/v1/datasets': '200',
      'get /api/v1/datasets/{name}': '200',
      'get /api/v1/dlq': '200',
      'get /api/v1/dlq/counts': '200',
      'get /api/v1/dlq/{id}': '200',
      'get /api/v1/health': '200',
      'post /api/v1/datasets': '201',
      'post /api/v1/datasets/{name}/versions': '201',
      'post /api/v1/dlq/{id}/replay': '200',
      'post /api/v1/ingest/{dataset}': '200',
    };
    expect(operations.map((o) => `${o.method} ${o.path}`).sort()).toEqual(Object.keys(successOf).sort());
    for (const { path, method, responses } of operations) {
      const success = Object.keys(responses).filter((status) => status.startsWith('2'));
      expect({ path, method, success }).toEqual({ path, method, success: [successOf[`${method} ${path}`]] });
      for (const status of [...success, '4XX', '5XX']) {
        expect({ path, method, status, schema: responses[status]?.content?.['application/json']?.schema }).toEqual({ path, method, status, schema: expect.objectContaining({ type: 'object' }) });
      }
      expect(responses['4XX']?.content?.['application/json']?.schema).toMatchObject({ required: ['error'], properties: { error: { required: ['name', 'message'] } } });
    }
    const dlqEntry = doc.paths['/api/v1/dlq/{id}'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(dlqEntry.properties as object)).toEqual(expect.arrayContaining(['id', 'reason', 'reasonKind', 'originalBase64', 'replays']));
    const ingest = doc.paths['/api/v1/ingest/{dataset}'].post.responses['200'].content['application/json'].schema;
    expect(ingest.properties.items.items.properties.status).toEqual({ enum: ['accepted', 'rejected'] });
  });
});
