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
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { formatInstanceHeader, INSTANCE_HEADER } from '@sluice/shared/fleet/checkin';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { createAjv } from '../src/datasets/validators.ts';
import { routeTable } from '../src/http/server.ts';
import { checkinBody, nonce } from './support/fleet-requests.ts';
import { insertAgent } from './support/fleet-rows.ts';
import { testServer } from './support/test-server.ts';
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
  app = (await testServer(pool, {
    datasets: new DatasetStore(pool, { prepare: () => Promise.resolve([{ sink: 'postgres', outcome: { kind: 'failed', reason: 'table is owned by someone else' } }]) }),
    apiKeys,
    produce: (m) => producer.send(m),
    produceOne: (m) => producer.sendOne(m),
    kafka: { ping: async () => void (await listTopics(stackEnv.kafkaBrokers)), lag: () => Promise.resolve([{ topic: `${prefix}x`, partition: 0, lag: 3 }]) },
    topicPrefix: prefix,
    maxRecordBytes: 4096,
    bodyLimitBytes: 64 * 1024,
  })).app;
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

const as = (key: string) => (key === '' ? {} : { authorization: `Bearer ${key}` });
const openapiPath = (url: string): string => url.replace(/:([A-Za-z_]+)/g, '{$1}');

/** The routes the OpenAPI document shows: every route but HEAD, CORS preflights, /docs and the hidden operational ones. */
function documentedRoutes(): ReturnType<typeof routeTable> {
  return routeTable(app).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS' && r.schema?.hide !== true && !r.url.startsWith('/docs'));
}

describe('response schemas', () => {
  it('every answer of every route arrives as the handler built it and matches its documented schema', async () => {
    let calls = 0;
    const call = async (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, key: string, payload?: unknown, headers: Record<string, string> = {}) => {
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
    expect((await call('POST', '/api/v1/datasets/meters/versions/check', operator, { schema: schemaV1 })).json()).toMatchObject({ latestVersion: 2, version: 3 });
    expect((await call('GET', '/api/v1/datasets/meters/versions/1', viewer)).json().schema).toMatchObject(schemaV1);
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
    const dry = await call('POST', '/api/v1/dlq/dry-run', operator, { filter: { dataset: 'meters' }, against: { dataset: 'meters', version: 1 } });
    expect(dry.json()).toMatchObject({ matched: 1, total: 1, wouldFail: 1, byReason: [{ reasonKind: 'not_envelope' }], samples: [{ id: entry?.id, paths: [] }] });
    const bulk = await call('POST', '/api/v1/dlq/replay', operator, { ids: [poison?.id, '999999'] });
    expect(bulk.json()).toMatchObject({ replayed: [{ id: poison?.id, recordId: null }], skipped: [{ id: '999999' }], remaining: 0, through: null });
    expect((await call('POST', '/api/v1/dlq/replay', operator, { filter: { dataset: 'meters' } })).json()).toEqual({ replayed: [], skipped: [], remaining: 0, through: entry?.id });

    expect((await call('GET', '/api/v1/health?minutes=5', viewer)).json()).toMatchObject({ minutes: 5, consumerLag: [{ lag: 3 }] });
    expect((await call('GET', '/api/v1/pipeline/health?minutes=5', viewer)).json()).toMatchObject({ minutes: 5, datasets: expect.any(Array) });
    expect((await call('GET', '/api/v1/fleet/summary', viewer)).json()).toMatchObject({ agents: { total: 0 }, drift: 0 });
    expect((await call('GET', '/api/v1/ledger', viewer)).json()).toMatchObject({ rows: expect.any(Array), settleSeconds: 120 });
    // Analytics (meters declares no aggregation).
    expect((await call('GET', '/api/v1/analytics/meters/counters', viewer)).json()).toEqual({ dataset: 'meters', minute: expect.any(String), aggregations: [] });
    const aggregating = { name: 'gauges', sinks: {}, schema: {}, eventTime: { field: '/ts', format: 'epoch-ms' }, aggregations: [{ name: 'by_site', groupBy: ['/site'], measures: [{ field: '/v', percentiles: true }] }] };
    expect((await call('POST', '/api/v1/datasets', operator, aggregating)).statusCode).toBe(201);
    expect((await call('GET', '/api/v1/analytics/gauges/aggregates?aggregation=by_site&windowMinutes=5&hopMinutes=1', viewer)).json()).toMatchObject({ aggregation: 'by_site', windows: [] });
    expect((await call('GET', '/api/v1/analytics/meters/records?limit=5', viewer)).json()).toMatchObject({ dataset: 'meters', items: expect.any(Array), nextCursor: null });
    expect((await call('GET', '/api/v1/analytics/meters/aggregates?aggregation=none', viewer)).statusCode).toBe(404);
    expect((await call('GET', '/api/v1/analytics/meters/aggregates', viewer)).statusCode).toBe(400);
    expect((await call('GET', '/api/v1/analytics/gauges/anomalies?state=open', viewer)).json()).toMatchObject({ dataset: 'gauges', items: [], nextCursor: null });
    const notification = { version: '4', status: 'firing', receiver: 'test', alerts: [{ status: 'firing', labels: { alertname: 'SchemaTest', dataset: 'gauges' }, annotations: { summary: 'x' } }] };
    expect((await call('POST', '/api/v1/alerts/webhook', viewer, notification)).json()).toEqual({ received: 1 });
    // Lookup tables, dry runs and the quality report.
    expect((await call('PUT', '/api/v1/lookups/sites', operator, { description: 'sites', rows: [{ key: 'a', value: { city: 'x' } }] })).json()).toMatchObject({ name: 'sites', rows: 1 });
    expect((await call('GET', '/api/v1/lookups', viewer)).json()).toEqual({ items: [expect.objectContaining({ name: 'sites', rows: 1 })] });
    expect((await call('GET', '/api/v1/lookups/sites?limit=10', viewer)).json()).toMatchObject({ rows: [{ key: 'a', value: { city: 'x' } }] });
    const sample = { records: [{ device: 'd1' }, { temperature: 1 }], proposed: { transforms: [{ lookup: { table: 'sites', key: '/device', into: '/site', missing: 'null' } }], rules: [{ name: 'warm', severity: 'warn', range: { field: '/temperature', min: 10 } }] } };
    expect((await call('POST', '/api/v1/datasets/meters/dry-run', operator, sample)).json()).toMatchObject({ summary: { loaded: 1, deadLettered: 1, warned: 0 } });
    expect((await call('GET', '/api/v1/datasets/meters/quality', viewer)).json()).toMatchObject({ dataset: 'meters', rules: [] });
    expect((await call('DELETE', '/api/v1/lookups/sites', operator)).json()).toEqual({ name: 'sites', deleted: true });
    expect((await call('GET', '/api/v1/lookups/sites', viewer)).statusCode).toBe(404);
    // Schema compare and apply.
    expect((await call('POST', '/api/v1/schema/compare', viewer, { dataset: 'meters', from: { version: 1 }, to: { version: 1 } })).json()).toMatchObject({ compatible: true, changes: [] });
    expect((await call('POST', '/api/v1/schema/versions/meters@1/apply', operator)).json()).toMatchObject({ dataset: 'meters', version: 1, parquet: { columns: expect.any(Array) } });
    // Ingestion jobs: created (not started), listed, read, cancelled; the workers list.
    const job = (await call('POST', '/api/v1/ingestion/jobs', operator, { dataset: 'meters', source: { kind: 'kafka', topic: 'meters-replay', ranges: [{ partition: 0, from: 0, to: 10 }] } })).json();
    expect(job).toMatchObject({ dataset: 'meters', kind: 'kafka', state: 'created', errors: [] });
    expect((await call('GET', '/api/v1/ingestion/jobs?kind=kafka&limit=1', viewer)).json()).toMatchObject({ items: [expect.objectContaining({ id: job.id })], nextCursor: null });
    expect((await call('GET', `/api/v1/ingestion/jobs/${job.id}`, viewer)).json()).toMatchObject({ id: job.id, progress: { batches: { total: 0 } } });
    expect((await call('POST', `/api/v1/ingestion/jobs/${job.id}/cancel`, operator)).json()).toMatchObject({ id: job.id, state: 'cancelled' });
    expect((await call('POST', `/api/v1/ingestion/jobs/${job.id}/start`, operator)).json()).toMatchObject({ id: job.id, state: 'queued' });
    expect((await call('POST', `/api/v1/ingestion/jobs/${job.id}/cancel`, operator)).statusCode).toBe(200);
    expect((await call('POST', '/api/v1/ingestion/jobs', operator, { dataset: 'meters', source: { kind: 'nope' } })).statusCode).toBe(400);
    expect((await call('GET', '/api/v1/ingestion/workers', viewer)).json()).toEqual({ items: [] });
    // Lake tables (meters has the object-store sink).
    expect((await call('GET', '/api/v1/tables', viewer)).json().items).toEqual([expect.objectContaining({ name: 'meters', partitionSpec: expect.any(Array) })]);
    expect((await call('GET', '/api/v1/tables/meters/partitions?limit=5', viewer)).json()).toMatchObject({ items: expect.any(Array), nextCursor: null });
    expect((await call('PUT', '/api/v1/tables/meters', operator, { description: 'meters lake' })).json()).toMatchObject({ name: 'meters', description: 'meters lake' });
    expect((await call('PUT', '/api/v1/tables/meters', operator, { nope: 1 })).statusCode).toBe(400);
    expect((await call('GET', '/api/v1/tables/nothere', viewer)).statusCode).toBe(404);
    expect((await call('GET', '/api/v1/tables/meters', viewer)).json()).toMatchObject({ name: 'meters', description: 'meters lake' });
    expect((await call('DELETE', '/api/v1/tables/meters', operator)).json()).toEqual({ name: 'meters', deleted: true });
    expect((await call('GET', '/healthz', viewer)).json()).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz', viewer)).json()).toEqual({ status: 'ready' });
    expect((await call('GET', '/api/v1/datasets', 'not-a-key')).statusCode).toBe(401);

    // Operators: users, sessions, API keys, audit.
    expect((await call('POST', '/api/v1/users', ADMIN, { username: 'resp-user', password: 'a long enough password', role: 'viewer' })).statusCode).toBe(201);
    expect((await call('POST', '/api/v1/users', ADMIN, { username: 'resp-user', password: 'a long enough password', role: 'viewer' })).statusCode).toBe(409);
    expect((await call('GET', '/api/v1/users', ADMIN)).statusCode).toBe(200);
    expect((await call('PATCH', '/api/v1/users/resp-user', ADMIN, { role: 'operator' })).json()).toMatchObject({ role: 'operator' });
    const login = await call('POST', '/api/v1/auth/login', '', { username: 'resp-user', password: 'a long enough password', client: 'token' });
    expect(login.statusCode).toBe(200);
    expect((await call('POST', '/api/v1/auth/login', '', { username: 'resp-user', password: 'wrong password!!' })).statusCode).toBe(401);
    const refreshed = await call('POST', '/api/v1/auth/refresh', '', { refreshToken: login.json().refreshToken });
    expect(refreshed.statusCode).toBe(200);
    expect((await call('GET', '/api/v1/auth/me', refreshed.json<{ accessToken: string }>().accessToken)).json()).toMatchObject({ kind: 'user', name: 'resp-user' });
    expect((await call('POST', '/api/v1/auth/logout', '', { refreshToken: refreshed.json().refreshToken })).json()).toEqual({ loggedOut: true });
    expect((await call('GET', '/.well-known/jwks.json', '')).json().keys.length).toBeGreaterThan(0);
    expect((await call('POST', '/api/v1/users/resp-user/disable', ADMIN)).statusCode).toBe(200);
    const key = await call('POST', '/api/v1/api-keys', ADMIN, { role: 'viewer', name: 'resp key' });
    expect(key.statusCode).toBe(201);
    expect((await call('GET', '/api/v1/api-keys', ADMIN)).statusCode).toBe(200);
    expect((await call('POST', `/api/v1/api-keys/${key.json().id}/revoke`, ADMIN)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/audit?limit=5', ADMIN)).statusCode).toBe(200);

    // Fleet: enrollment, the agent's own routes, agents.
    const token = await call('POST', '/api/v1/enrollment-tokens', ADMIN, { name: 'resp batch' });
    expect(token.statusCode).toBe(201);
    const spare = await call('POST', '/api/v1/enrollment-tokens', ADMIN, { name: 'spare' });
    expect((await call('GET', '/api/v1/enrollment-tokens', ADMIN)).statusCode).toBe(200);
    expect((await call('DELETE', `/api/v1/enrollment-tokens/${spare.json().id}`, ADMIN)).statusCode).toBe(200);
    const instance = { counter: 1, nonce: nonce() };
    const enrolled = await call('POST', '/api/v1/enroll', '', { token: token.json().token, hostname: 'resp-gw', version: '0.1.0', instance });
    expect(enrolled.statusCode).toBe(201);
    expect((await call('POST', '/api/v1/enroll', '', { token: spare.json().token, hostname: 'resp-gw', version: '0.1.0', instance })).statusCode).toBe(401);
    const { agentId, credential } = enrolled.json<{ agentId: string; credential: string }>();
    const agentHeaders = { [INSTANCE_HEADER]: formatInstanceHeader(instance) };
    expect((await call('POST', '/api/v1/agent/checkin', credential, checkinBody(), agentHeaders)).json()).toMatchObject({ agentId, desired: null });
    expect((await call('GET', '/api/v1/agent/config', credential, undefined, agentHeaders)).json()).toEqual({ desired: null, config: null });
    expect((await call('GET', '/api/v1/agents', viewer)).json().items).toHaveLength(1);
    expect((await call('GET', `/api/v1/agents/${agentId}`, viewer)).json().checkins.length).toBeGreaterThan(0);
    expect((await call('PATCH', `/api/v1/agents/${agentId}`, operator, { labels: { site: 'resp' } })).json().labels).toEqual({ site: 'resp' });
    expect((await call('POST', `/api/v1/agents/${agentId}/revoke`, ADMIN)).json().status).toBe('revoked');

    // Policies and rollouts, over one agent the policy selects.
    await insertAgent(pool, 'resp-agent', { group: 'resp' });
    const config = (startAt: string) => ({ sources: [{ type: 'file', id: 'app', dataset: 'meters', include: ['/var/log/app/*.log'], startAt }] });
    expect((await call('POST', '/api/v1/policies', operator, { name: 'resp', selector: { labels: { group: 'resp' } } })).statusCode).toBe(201);
    expect((await call('GET', '/api/v1/policies', viewer)).statusCode).toBe(200);
    expect((await call('PATCH', '/api/v1/policies/resp', operator, { description: 'response schemas' })).statusCode).toBe(200);
    expect((await call('POST', '/api/v1/policies/resp/validate', operator, { config: config('beginning') })).json().ok).toBe(true);
    expect((await call('POST', '/api/v1/policies/resp/revisions', operator, { config: config('beginning') })).statusCode).toBe(201);
    expect((await call('POST', '/api/v1/policies/resp/revisions', operator, { config: { sources: [{ type: 'nope' }] } })).statusCode).toBe(400);
    expect((await call('POST', '/api/v1/policies/resp/revisions', operator, { config: config('end') })).statusCode).toBe(201);
    expect((await call('GET', '/api/v1/policies/resp', viewer)).json().currentRevision).toBe(1);
    expect((await call('GET', '/api/v1/policies/resp/revisions', viewer)).json().items).toHaveLength(2);
    expect((await call('GET', '/api/v1/policies/resp/revisions/2', viewer)).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/policies/resp/diff?from=1&to=2', viewer)).json().changes).toHaveLength(1);
    const all = await call('POST', '/api/v1/policies/resp/rollouts', operator, { revision: 2, strategy: { kind: 'all' } });
    expect(all.json().state).toBe('completed');
    expect((await call('POST', '/api/v1/policies/resp/rollback', operator, { revision: 1 })).json()).toEqual({ policy: 'resp', currentRevision: 1 });
    const staged = await call('POST', '/api/v1/policies/resp/rollouts', operator, {
      revision: 2,
      strategy: { kind: 'staged', canary: { agents: ['resp-agent'] }, waves: [{ percent: 100 }], soakSeconds: 60 },
    });
    expect(staged.statusCode).toBe(201);
    expect((await call('POST', `/api/v1/rollouts/${staged.json().id}/pause`, operator)).json().state).toBe('paused');
    expect((await call('POST', `/api/v1/rollouts/${staged.json().id}/resume`, operator)).json().state).toBe('running');
    expect((await call('POST', `/api/v1/rollouts/${staged.json().id}/abort`, operator)).json().state).toBe('aborted');
    expect((await call('POST', `/api/v1/rollouts/${staged.json().id}/abort`, operator)).statusCode).toBe(409);
    const third = await call('POST', '/api/v1/policies/resp/rollouts', operator, { revision: 2, strategy: { kind: 'all' } });
    expect((await call('POST', `/api/v1/rollouts/${third.json().id}/rollback`, operator)).json().state).toBe('rolling-back');
    expect((await call('GET', `/api/v1/rollouts/${staged.json().id}`, viewer)).json().agents).toHaveLength(1);
    expect((await call('GET', '/api/v1/policies/resp/rollouts', viewer)).json().items).toHaveLength(3);

    // Each call was seen on its way out, so none escaped the checks below; and every documented route was
    // answered successfully at least once, so a new route cannot go unchecked.
    expect(answers).toHaveLength(calls);
    const succeeded = new Set(answers.filter((a) => a.status < 300).map((a) => a.route));
    expect(documentedRoutes().map((r) => `${r.method} ${r.url}`).filter((route) => !succeeded.has(route))).toEqual([]);
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
    // Each route the server registers is documented, with the one success status its schema declares.
    const successOf = Object.fromEntries(
      documentedRoutes().map((r) => [`${r.method.toLowerCase()} ${openapiPath(r.url)}`, Object.keys(r.schema?.response ?? {}).filter((status) => status.startsWith('2'))]),
    );
    expect(Object.keys(successOf).length).toBeGreaterThan(50);
    expect(operations.map((o) => `${o.method} ${o.path}`).sort()).toEqual(Object.keys(successOf).sort());
    for (const { path, method, responses } of operations) {
      const success = Object.keys(responses).filter((status) => status.startsWith('2'));
      expect({ path, method, success }).toEqual({ path, method, success: successOf[`${method} ${path}`] });
      expect({ path, method, success }).toEqual({ path, method, success: [expect.stringMatching(/^2\d\d$/)] });
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
