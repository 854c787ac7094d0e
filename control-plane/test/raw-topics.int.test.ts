/**
 * Raw input topics against the real stack: a third-party producer (kcat) writes plain JSON and text to topics
 * two datasets name as their input; the consumer wraps each message (ids from topic, partition and offset, or
 * the record's own key), takes event time from the dataset's field and loads PostgreSQL. Malformed and
 * schema-invalid messages go to the DLQ with their reasons; a consumer restart loads nothing twice.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ownTopics } from '@sluice/shared/node/testing/test-resources';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { kafkaMessageId } from '../src/consumer/raw-topics.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { countRows, createTopics, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

const run = Date.now().toString(36);
const ordersTopic = `thirdparty.orders.${run}`;
const linesTopic = `thirdparty.lines.${run}`;
const keyedTopic = `thirdparty.keyed.${run}`;
let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let consumer: RunningConsumer | undefined;
const logger = createLogger('raw-topics-int', { level: 'warn' });

/** Produces lines with kcat, a producer nobody here wrote: one message per line. */
function kcat(topic: string, lines: readonly string[], key?: string): void {
  const args = ['-P', '-b', stackEnv.kafkaBrokers.join(','), '-t', topic, ...(key === undefined ? [] : ['-K', '\t'])];
  execFileSync('kcat', args, { input: `${lines.map((l) => (key === undefined ? l : `${key}\t${l}`)).join('\n')}\n` });
}

const dlq = async (dataset: string) =>
  (await state.pool.query<{ reason: string; record_id: string | null }>(`SELECT reason, record_id FROM dlq WHERE dataset = $1 ORDER BY "offset"`, [dataset])).rows;

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema, { SLUICE_TOPIC_REFRESH_MS: '300' });
  ownTopics(ordersTopic, linesTopic, keyedTopic);
  await ensureTopics(stackEnv.kafkaBrokers, [{ name: ordersTopic, partitions: 1 }, { name: linesTopic, partitions: 1 }, { name: keyedTopic, partitions: 1 }]);
  await createTopics(config, [config.dlqTopic]);
  const store = new DatasetStore(state.pool);
  await store.create(
    { name: 'raw_orders', sinks: { postgres: { enabled: true } }, input: { topic: ordersTopic, format: 'json' }, eventTime: { field: '/at', format: 'rfc3339' } },
    { type: 'object', required: ['n'], properties: { n: { type: 'integer' }, at: { type: 'string' } } },
  );
  await store.create({ name: 'raw_lines', sinks: { postgres: { enabled: true } }, input: { topic: linesTopic, format: 'text' } }, { type: 'object' });
  await store.create({ name: 'raw_keyed', sinks: { postgres: { enabled: true } }, input: { topic: keyedTopic, format: 'json', idField: '/sku' } }, { type: 'object' });
  consumer = await startConsumer(config, logger);
});

afterAll(async () => {
  await consumer?.stop();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

describe('raw input topics', () => {
  it('loads good messages, dead-letters malformed and schema-invalid ones with their reasons, and survives a restart exactly once', async () => {
    kcat(ordersTopic, [
      '{"n": 1, "at": "2026-11-30T08:00:00Z"}',
      '{not json',
      '{"n": "two"}',
      '{"n": 3, "at": "2026-11-30T08:01:00Z"}',
    ]);
    const table = `${config.dataSchema}.raw_orders`;
    await waitFor('2 rows', () => countRows(state.pool, table).catch(() => 0), (n) => n === 2, 60_000);
    const { rows } = await state.pool.query<{ id: string; n: number; event_time: Date; agent_id: string }>(
      `SELECT id, (payload->>'n')::int AS n, event_time, agent_id FROM ${table} ORDER BY n`,
    );
    expect(rows.map((r) => [r.id, r.n, r.event_time.toISOString(), r.agent_id])).toEqual([
      [kafkaMessageId(ordersTopic, 0, 0), 1, '2026-11-30T08:00:00.000Z', 'control-plane'],
      [kafkaMessageId(ordersTopic, 0, 3), 3, '2026-11-30T08:01:00.000Z', 'control-plane'],
    ]);
    const dead = await waitFor('2 DLQ rows', () => dlq('raw_orders'), (d) => d.length === 2, 30_000);
    expect(dead[0]!.reason).toMatch(/^could not be parsed at the source: offset 1 is not JSON/);
    expect(dead[0]!.record_id).toBe(kafkaMessageId(ordersTopic, 0, 1));
    expect(dead[1]!.reason).toBe('does not match schema version 1 of raw_orders: /n: must be integer');

    // Restarted, the consumer goes on from its committed offsets: the next message once, nothing again.
    await consumer?.stop();
    kcat(ordersTopic, ['{"n": 5, "at": "2026-11-30T08:02:00Z"}']);
    consumer = await startConsumer(config, logger);
    await waitFor('3 rows', () => countRows(state.pool, table), (n) => n === 3, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await countRows(state.pool, table)).toBe(3);
    expect(await dlq('raw_orders')).toHaveLength(2);
  });

  it('wraps text lines as { message }, and keys records by their idField when the producer sends one again', async () => {
    kcat(linesTopic, ['GET /index.html 200', 'POST /login 401']);
    await waitFor('2 lines', () => countRows(state.pool, `${config.dataSchema}.raw_lines`).catch(() => 0), (n) => n === 2, 60_000);
    const { rows } = await state.pool.query<{ m: string }>(`SELECT payload->>'message' AS m FROM ${config.dataSchema}.raw_lines ORDER BY m`);
    expect(rows.map((r) => r.m)).toEqual(['GET /index.html 200', 'POST /login 401']);

    kcat(keyedTopic, ['{"sku": "a-1", "qty": 1}', '{"sku": "b-2", "qty": 2}', '{"sku": "a-1", "qty": 1}', '{"qty": 9}']);
    const keyed = `${config.dataSchema}.raw_keyed`;
    await waitFor('2 keyed rows', () => countRows(state.pool, keyed).catch(() => 0), (n) => n === 2, 60_000);
    const dead = await waitFor('the keyless one in the DLQ', () => dlq('raw_keyed'), (d) => d.length === 1, 30_000);
    expect(dead[0]!.reason).toBe('could not be parsed at the source: idField /sku is missing, null or empty');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await countRows(state.pool, keyed)).toBe(2);
  });

  it('refuses a second dataset on the same input topic, and a topic under the Sluice prefix', async () => {
    const store = new DatasetStore(state.pool);
    await expect(store.create({ name: 'raw_twice', sinks: { postgres: { enabled: true } }, input: { topic: ordersTopic, format: 'json' } }, { type: 'object' })).rejects.toThrow(
      `input.topic "${ordersTopic}" overlaps input.topic "${ordersTopic}" of dataset raw_orders`,
    );
    await expect(store.create({ name: 'raw_own', sinks: { postgres: { enabled: true } }, input: { topic: 'sluice.raw_orders', format: 'json' } }, { type: 'object' })).rejects.toThrow(/topics under sluice\. are the datasets' own/);
  });
});
