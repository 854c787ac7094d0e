/**
 * A new dataset's first records do not wait for a slow topic re-list: with the default settings, a consumer
 * already busy with one dataset picks up a topic that appears later and loads its first record within a few
 * seconds (the re-list period plus one re-subscription), while the first dataset keeps flowing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { countRows, createTopics, produceRecords, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

const schema = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } } as const;
/** The re-list period (1 s by default) plus a re-subscription; the old default alone was 10 s. */
const PROMPT_MS = 5_000;

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;

beforeAll(async () => {
  state = await freshState();
  // '' is "not set": the consumer's own default re-list period, not the test harness's faster one.
  config = testConfig(state.schema, { SLUICE_TOPIC_REFRESH_MS: '' });
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'new-topic-int' });
  await new DatasetStore(state.pool).create({ name: 'early', sinks: { postgres: { enabled: true } } }, schema);
  await createTopics(config, [`${config.topicPrefix}early`, config.dlqTopic]);
});

afterAll(async () => {
  await running?.stop();
  await producer?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

describe('consumer: a dataset topic that appears later', () => {
  it('loads its first record within a few seconds, and the running dataset keeps flowing', async () => {
    expect(config.topicRefreshMs).toBeLessThanOrEqual(1_000);
    running = await startConsumer(config, createLogger('new-topic-int', { level: 'warn' }));
    await produceRecords(producer, `${config.topicPrefix}early`, 'early', 0, 100);
    await waitFor('the first dataset loaded', () => countRows(state.pool, `${config.dataSchema}.early`), (n) => n === 100, 60_000);

    await new DatasetStore(state.pool).create({ name: 'late', sinks: { postgres: { enabled: true } } }, schema);
    await createTopics(config, [`${config.topicPrefix}late`]);
    const sent = performance.now();
    await produceRecords(producer, `${config.topicPrefix}late`, 'late', 0, 1);
    await waitFor('the new dataset\u2019s first record', () => countRows(state.pool, `${config.dataSchema}.late`).catch(() => 0), (n) => n === 1, 30_000);
    const waitedMs = performance.now() - sent;
    expect(waitedMs, `first record of a new topic after ${Math.round(waitedMs)} ms`).toBeLessThan(PROMPT_MS);

    await produceRecords(producer, `${config.topicPrefix}early`, 'early', 100, 100);
    await waitFor('the first dataset still flowing', () => countRows(state.pool, `${config.dataSchema}.early`), (n) => n === 200, 30_000);
  });
});
