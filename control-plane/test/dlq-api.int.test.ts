/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- inject().json() is untyped; the assertions are what check its shape */
/**
 * The DLQ API against the real consumer, Kafka and PostgreSQL: entries are counted by reason kind, and a
 * replay is recorded (who, when, where it landed); replaying the same entry again answers 409 unless forced.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { testServer } from './support/test-server.ts';
import { envelope } from './support/messages.ts';
import { countRows, createTopics, envelopeMessage, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;
let app: FastifyInstance;
let datasets: DatasetStore;
const ADMIN = 'bootstrap-admin-key-for-dlq-tests-0123456789';
let operator = '';
const schema = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } };

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema);
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'dlq-api-int' });
  datasets = new DatasetStore(state.pool);
  await datasets.create({ name: 'sensors', sinks: { postgres: { enabled: true } } }, schema);
  await createTopics(config, [`${config.topicPrefix}sensors`, `${config.topicPrefix}ghosts`, config.dlqTopic]);
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  operator = (await apiKeys.create('operator', 'replay operator')).key;
  app = (await testServer(state.pool, {
    datasets,
    apiKeys,
    produce: (m) => producer.send(m),
    produceOne: (m) => producer.sendOne(m),
    topicPrefix: config.topicPrefix,
    maxRecordBytes: 64 * 1024,
    bodyLimitBytes: 64 * 1024,
  })).app;
  running = await startConsumer(config, createLogger('dlq-api-int', { level: 'warn' }));
});

afterAll(async () => {
  await running?.stop();
  await app?.close();
  await producer?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const dlqRows = async () => (await state.pool.query<{ id: string; record_id: string; partition: number; offset: string }>('SELECT id, record_id, partition, "offset" FROM dlq ORDER BY id')).rows;

describe('DLQ API (real consumer, Kafka, PostgreSQL)', () => {
  it('counts entries by reason kind, so a mass failure (an unregistered dataset) stands out', async () => {
    const ghosts = `${config.topicPrefix}ghosts`;
    const sensors = `${config.topicPrefix}sensors`;
    await producer.send([
      ...Array.from({ length: 6 }, (_, i) => envelopeMessage(ghosts, envelope('ghosts', `ghost-${i}`, { device: `g${i}` }))),
      envelopeMessage(sensors, envelope('sensors', 'bad-1', { device: 'a', temperature: 'hot' })),
      envelopeMessage(sensors, envelope('sensors', 'bad-2', { temperature: 1 })),
      envelopeMessage(sensors, envelope('sensors', 'unparsed', null, { parseError: { reason: 'unexpected end of JSON input', raw: '{"device":' } })),
    ]);
    await waitFor('9 DLQ rows', dlqRows, (rows) => rows.length === 9);

    const counts = await app.inject({ method: 'GET', url: '/api/v1/dlq/counts', headers: auth(operator) });
    expect(counts.statusCode).toBe(200);
    expect(counts.json()).toEqual({
      total: 9,
      byReasonKind: [
        { reasonKind: 'unknown_dataset', count: 6, notReplayed: 6, lastAt: expect.any(String), example: expect.stringMatching(/^unknown dataset ghosts$/), datasets: [{ dataset: 'ghosts', count: 6 }] },
        { reasonKind: 'schema', count: 2, notReplayed: 2, lastAt: expect.any(String), example: expect.stringMatching(/^does not match schema version 1 of sensors/), datasets: [{ dataset: 'sensors', count: 2 }] },
        { reasonKind: 'parse', count: 1, notReplayed: 1, lastAt: expect.any(String), example: 'could not be parsed at the source: unexpected end of JSON input', datasets: [{ dataset: 'sensors', count: 1 }] },
      ],
    });
    const one = await app.inject({ method: 'GET', url: '/api/v1/dlq/counts?dataset=sensors', headers: auth(operator) });
    expect(one.json().byReasonKind.map((k: { reasonKind: string }) => k.reasonKind)).toEqual(['schema', 'parse']);
    const future = await app.inject({ method: 'GET', url: `/api/v1/dlq/counts?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, headers: auth(operator) });
    expect(future.json()).toEqual({ total: 0, byReasonKind: [] });

    const list = await app.inject({ method: 'GET', url: '/api/v1/dlq?reasonKind=unknown_dataset&limit=2', headers: auth(operator) });
    expect(list.json().total).toBe(6);
    expect(list.json().items).toHaveLength(2);
    expect(list.json().items[0]).toMatchObject({ reasonKind: 'unknown_dataset', dataset: 'ghosts' });
    expect((await app.inject({ method: 'GET', url: '/api/v1/dlq?reasonKind=nonsense', headers: auth(operator) })).statusCode).toBe(400);
  });

  it('records a replay, answers 409 naming it on a second one, and replays again only with force', async () => {
    // Fix the cause (register the dataset), then replay one of its entries.
    await datasets.create({ name: 'ghosts', sinks: { postgres: { enabled: true } } }, schema);
    await sleep(5_500); // the consumer's dataset cache
    const entry = (await dlqRows()).find((r) => r.record_id === 'ghost-0')!;
    const url = `/api/v1/dlq/${entry.id}/replay`;
    const first = await app.inject({ method: 'POST', url, headers: auth(operator) });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().replay).toMatchObject({ keyName: 'replay operator', forced: false, topic: `${config.topicPrefix}ghosts` });
    const table = `${config.dataSchema}.ghosts`;
    await waitFor('the replayed record in PostgreSQL', () => countRows(state.pool, table), (n) => n === 1);

    const again = await app.inject({ method: 'POST', url, headers: auth(ADMIN), payload: {} });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({
      name: 'ConflictError',
      message: expect.stringMatching(new RegExp(`^DLQ entry ${entry.id} was already replayed at .+ by replay operator .* offset ${first.json().replay.offset as string}; send \\{"force": true\\} to replay it again$`)),
      details: { replayedAt: first.json().replayedAt },
    });

    const forced = await app.inject({ method: 'POST', url, headers: auth(ADMIN), payload: { force: true } });
    expect(forced.statusCode, forced.body).toBe(200);
    expect(forced.json().replays).toHaveLength(2);
    expect(forced.json().replay).toMatchObject({ keyId: 'bootstrap-admin', forced: true, partition: first.json().replay.partition });
    expect(BigInt(forced.json().replay.offset as string)).toBeGreaterThan(BigInt(first.json().replay.offset as string));
    const recorded = await state.pool.query('SELECT key_id, forced FROM dlq_replays WHERE dlq_id = $1 ORDER BY id', [entry.id]);
    expect(recorded.rows).toEqual([{ key_id: expect.any(String), forced: false }, { key_id: 'bootstrap-admin', forced: true }]);
    const detail = await app.inject({ method: 'GET', url: `/api/v1/dlq/${entry.id}`, headers: auth(operator) });
    expect(detail.json()).toMatchObject({ id: entry.id, reasonKind: 'unknown_dataset', replayedAt: forced.json().replayedAt, replays: forced.json().replays });
    // The second copy carries the same record id: still one row.
    await sleep(1500);
    expect(await countRows(state.pool, table)).toBe(1);
    const counts = await app.inject({ method: 'GET', url: '/api/v1/dlq/counts?dataset=ghosts', headers: auth(operator) });
    expect(counts.json().byReasonKind[0]).toMatchObject({ count: 6, notReplayed: 5 });
  });

  it('two concurrent replays of one entry: one is done, the other answers 409', async () => {
    const entry = (await dlqRows()).find((r) => r.record_id === 'ghost-1')!;
    const url = `/api/v1/dlq/${entry.id}/replay`;
    const answers = await Promise.all([app.inject({ method: 'POST', url, headers: auth(operator) }), app.inject({ method: 'POST', url, headers: auth(operator) })]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
    expect((await state.pool.query('SELECT count(*)::int AS n FROM dlq_replays WHERE dlq_id = $1', [entry.id])).rows[0]).toEqual({ n: 1 });
    expect((await app.inject({ method: 'POST', url: '/api/v1/dlq/999999999/replay', headers: auth(operator) })).statusCode).toBe(404);
  });
});
