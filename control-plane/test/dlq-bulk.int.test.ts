/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- inject().json() is untyped; the assertions are what check its shape */
/**
 * The DLQ's dry run and bulk replay against the real consumer, Kafka and PostgreSQL. Records refused by
 * schema version 1 are dry-run against version 1 (none would pass) and version 2 (the ones it accepts
 * would); nothing a dry run does changes anything. A replay of the filter, in two bounded requests, lands
 * each record in the table exactly once; the records that fail again become new entries that the same run
 * does not replay again; a forced replay of a loaded record still leaves it once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DlqDryRunResponse } from '@sluice/shared/api/dlq-bulk';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { DlqDryRun } from '../src/dlq/dry-run.ts';
import { envelope } from './support/messages.ts';
import { createTopics, envelopeMessage, rowIds, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;
let server: TestServer;
let app: FastifyInstance;
let datasets: DatasetStore;
let operator = '';
let viewer = '';
let publishedAt = 0;
const ADMIN = 'bootstrap-admin-key-for-dlq-bulk-tests-0123456789';
const v1 = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number', maximum: 100 } } };
const v2 = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number', maximum: 200 } } };
/** Refused by version 1 for their temperature, accepted by version 2. */
const HOT = ['m-0', 'm-1', 'm-2', 'm-3'];
/** Refused by both: no device. */
const NAMELESS = ['m-4', 'm-5'];

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema);
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'dlq-bulk-int' });
  datasets = new DatasetStore(state.pool);
  await datasets.create({ name: 'meters', sinks: { postgres: { enabled: true } } }, v1);
  await createTopics(config, [`${config.topicPrefix}meters`, config.dlqTopic]);
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  operator = (await apiKeys.create('operator', 'bulk operator')).key;
  viewer = (await apiKeys.create('viewer', 'bulk viewer')).key;
  server = await testServer(state.pool, { datasets, apiKeys, topicPrefix: config.topicPrefix, maxRecordBytes: config.maxRecordBytes });
  app = server.app;
  running = await startConsumer(config, createLogger('dlq-bulk-int', { level: 'warn' }));
});

afterAll(async () => {
  await running?.stop();
  await server?.close();
  await producer?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const post = (url: string, payload: unknown, key = operator) => app.inject({ method: 'POST', url, headers: auth(key), payload: payload as object });
const entries = async () => (await state.pool.query<{ id: string; record_id: string; schema_version: number; replayed_at: Date | null }>('SELECT id, record_id, schema_version, replayed_at FROM dlq ORDER BY id')).rows;
const idOf = async (recordId: string) => (await entries()).find((e) => e.record_id === recordId)!.id;
const count = async (sql: string) => (await state.pool.query<{ n: number }>(sql)).rows[0]!.n;

describe('DLQ dry run (real consumer, Kafka, PostgreSQL)', () => {
  it('counts against two schema versions differently, with the failing paths, and changes nothing', async () => {
    const topic = `${config.topicPrefix}meters`;
    await producer.send([
      ...HOT.map((id) => envelopeMessage(topic, envelope('meters', id, { device: id, temperature: 150 }))),
      ...NAMELESS.map((id) => envelopeMessage(topic, envelope('meters', id, { temperature: 1 }))),
    ]);
    await waitFor('6 DLQ entries', entries, (rows) => rows.length === 6);
    const added = await datasets.addVersion('meters', v2, true);
    expect(added.version).toBe(2);
    publishedAt = Date.now();

    const one = await post('/api/v1/dlq/dry-run', { filter: { dataset: 'meters' }, against: { dataset: 'meters', version: 1 }, samples: 10 });
    expect(one.statusCode, one.body).toBe(200);
    expect(one.json()).toMatchObject({ matched: 6, total: 6, truncated: false, against: { dataset: 'meters', version: 1 }, wouldPass: 0, wouldFail: 6 });
    expect(one.json().byReason).toEqual([{ reasonKind: 'schema', count: 6, example: expect.stringMatching(/^does not match schema version 1 of meters: /) }]);
    const paths = Object.fromEntries(one.json<DlqDryRunResponse>().samples.map((s) => [s.recordId, s.paths]));
    expect(paths).toEqual({ 'm-0': ['/temperature'], 'm-1': ['/temperature'], 'm-2': ['/temperature'], 'm-3': ['/temperature'], 'm-4': ['/'], 'm-5': ['/'] });

    const two = await post('/api/v1/dlq/dry-run', { filter: { dataset: 'meters' }, against: { dataset: 'meters', version: 2 } });
    expect(two.statusCode, two.body).toBe(200);
    expect(two.json()).toMatchObject({ total: 6, wouldPass: 4, wouldFail: 2, byReason: [{ reasonKind: 'schema', count: 2, example: expect.stringMatching(/^does not match schema version 2 of meters: \/: must have required property 'device'/) }] });
    expect(two.json<DlqDryRunResponse>().samples.map((s) => s.recordId).sort()).toEqual(NAMELESS);
    // Without `against`: every record against its dataset's latest version, which is 2 now.
    const latest = await post('/api/v1/dlq/dry-run', { filter: { dataset: 'meters', reasonKind: 'schema' } });
    expect(latest.json()).toMatchObject({ against: null, wouldPass: 4, wouldFail: 2 });

    const chosen = await idOf('m-0');
    expect((await post('/api/v1/dlq/dry-run', { ids: [chosen], against: { dataset: 'meters', version: 1 } })).json()).toMatchObject({ matched: 1, total: 1, wouldPass: 0, wouldFail: 1 });
    expect((await post('/api/v1/dlq/dry-run', { ids: [chosen] })).json()).toMatchObject({ matched: 1, total: 1, wouldPass: 1, wouldFail: 0, samples: [] });
    expect((await post('/api/v1/dlq/dry-run', { filter: {}, limit: 4 })).json()).toMatchObject({ matched: 6, total: 4, truncated: true });
    // Read in pages of one row (each page's bytes end after its first row): the same answer as in one page.
    const paged = new DlqDryRun(server.deps, { pageRows: 2, pageBytes: 1 });
    expect(await paged.run({ selection: { filter: { dataset: 'meters' } }, against: { dataset: 'meters', version: 2 }, limit: 10_000, samples: 10 })).toEqual(two.json());
    expect(await paged.run({ selection: { filter: {} }, limit: 5, samples: 0 })).toMatchObject({ matched: 6, total: 5, truncated: true, samples: [] });

    expect((await post('/api/v1/dlq/dry-run', { ids: [chosen], filter: {} })).statusCode).toBe(400);
    expect((await post('/api/v1/dlq/dry-run', {})).statusCode).toBe(400);
    expect((await post('/api/v1/dlq/dry-run', { filter: {}, against: { dataset: 'meters', version: 9 } })).statusCode).toBe(404);
    expect((await post('/api/v1/dlq/dry-run', { filter: {} }, viewer)).statusCode).toBe(403);

    // Nothing was sent, recorded or loaded.
    expect(await entries()).toHaveLength(6);
    expect(await count('SELECT count(*)::int AS n FROM dlq_replays')).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'dlq.replay'`)).toBe(0);
    expect(await rowIds(state.pool, `${config.dataSchema}.meters`).catch(() => [])).toEqual([]);
  });
});

describe('DLQ bulk replay (real consumer, Kafka, PostgreSQL)', () => {
  it('replays a filter in bounded requests, each record landing once; records failing again are not replayed again in the run', async () => {
    // The consumer holds a dataset's latest version for up to 5 s.
    await sleep(Math.max(0, publishedAt + 5_500 - Date.now()));
    const newest = (await entries()).at(-1)!.id;
    const first = await post('/api/v1/dlq/replay', { filter: { dataset: 'meters' }, limit: 4 });
    expect(first.statusCode, first.body).toBe(200);
    const { through } = first.json();
    expect(first.json()).toMatchObject({ skipped: [], remaining: 2, through: newest });
    expect(first.json().replayed).toHaveLength(4);
    expect(first.json().replayed[0].replay).toMatchObject({ keyName: 'bulk operator', forced: false, topic: `${config.topicPrefix}meters` });

    const second = await post('/api/v1/dlq/replay', { filter: { dataset: 'meters' }, limit: 4, through });
    expect(second.json()).toMatchObject({ skipped: [], remaining: 0, through });
    expect(second.json().replayed).toHaveLength(2);
    const replayed = [...first.json().replayed, ...second.json().replayed].map((r: { recordId: string }) => r.recordId).sort();
    expect(replayed).toEqual([...HOT, ...NAMELESS]);

    const table = `${config.dataSchema}.meters`;
    await waitFor('the four accepted records in PostgreSQL', () => rowIds(state.pool, table).catch(() => []), (ids) => ids.length === 4);
    // The two without a device failed again: new entries, after `through`, which the same run leaves alone.
    const again = await waitFor('the two records dead-lettered again', entries, (rows) => rows.length === 8);
    expect(again.slice(6).map((e) => [e.record_id, e.schema_version, e.replayed_at]).sort()).toEqual(NAMELESS.map((id) => [id, 2, null]));
    expect((await post('/api/v1/dlq/replay', { filter: { dataset: 'meters' }, through })).json()).toEqual({ replayed: [], skipped: [], remaining: 0, through });

    // Chosen ids: a replayed one is skipped unless forced, an unknown one is skipped; forced, it still loads once.
    const loaded = await idOf('m-0');
    const skipped = await post('/api/v1/dlq/replay', { ids: [loaded, '999999999'] });
    expect(skipped.json()).toMatchObject({ replayed: [], remaining: 0, through: null });
    expect(skipped.json().skipped).toEqual([
      { id: loaded, reason: expect.stringMatching(new RegExp(`^DLQ entry ${loaded} was already replayed at .+ by bulk operator`)) },
      { id: '999999999', reason: 'no DLQ entry 999999999' },
    ]);
    const forced = await post('/api/v1/dlq/replay', { ids: [loaded], force: true });
    expect(forced.json().replayed).toMatchObject([{ id: loaded, recordId: 'm-0', replay: { forced: true } }]);
    expect((await post('/api/v1/dlq/replay', { filter: {}, force: true })).statusCode).toBe(400);
    expect((await post('/api/v1/dlq/replay', { filter: {} }, viewer)).statusCode).toBe(403);

    await sleep(1500);
    expect(await rowIds(state.pool, table)).toEqual(HOT);
    // Every replay recorded and audited: 6 of the run and the forced one.
    expect(await count('SELECT count(*)::int AS n FROM dlq_replays')).toBe(7);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'dlq.replay' AND target_kind = 'dlqEntry'`)).toBe(7);
  });
});
