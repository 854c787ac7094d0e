import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { retryable, unclassified, type Outcome } from '@sluice/shared/outcome';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { SinkRegistry } from '../src/sinks/registry.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { PostgresSink } from '../src/sinks/postgres/postgres-sink.ts';
import type { Sink, SinkBatch, SinkWriteResult } from '../src/sinks/sink.ts';
import { countRows, createTopics, produceRecords, rowIds, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

/**
 * Stands in for a store that is down (`retryable` until healed, then the real PostgreSQL sink behind it)
 * or that answers with an error nobody classified (MinIO's XMinioInvalidResourceName, say): one dataset's
 * sink failing beside a healthy dataset, through the real Kafka, consumer group and PostgreSQL.
 */
class BrokenSink implements Sink {
  readonly name: string;
  readonly #behind: PostgresSink;
  readonly #failure: 'outage' | 'unknown';
  healed = false;
  attempts = 0;

  constructor(name: string, behind: PostgresSink, failure: 'outage' | 'unknown') {
    this.name = name;
    this.#behind = behind;
    this.#failure = failure;
  }
  prepare(dataset: DatasetVersion): Promise<Outcome> {
    return this.#behind.prepare(dataset);
  }
  write(batch: SinkBatch): Promise<SinkWriteResult> {
    this.attempts++;
    if (this.healed) return this.#behind.write(batch);
    return Promise.resolve(
      this.#failure === 'outage'
        ? retryable('connect ECONNREFUSED 127.0.0.1:9200', 50)
        : unclassified('object-store: writing 1 segment(s): XMinioInvalidResourceName: Resource name contains bad components such as ".." or "."'),
    );
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;
let pgSink: PostgresSink;
let outage: BrokenSink;
let unknown: BrokenSink;

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema, {
    SLUICE_BATCH_MAX_RECORDS: '500',
    SLUICE_SINK_UNKNOWN_ATTEMPTS: '3',
    SLUICE_SINK_UNKNOWN_RETRY_MS: '4000',
    SLUICE_CONSUMER_PAUSE_AFTER_MS: '300',
  });
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'isolation-int' });
  const store = new DatasetStore(state.pool);
  const schema = { type: 'object', properties: { device: { type: 'string' }, temperature: { type: 'number' } } };
  // `healthy` loads through the real PostgreSQL sink; `stalled` and `refused` only through broken ones.
  await store.create({ name: 'healthy', sinks: { postgres: { enabled: true } } }, schema);
  await store.create({ name: 'stalled', sinks: { search: { enabled: true } } }, schema);
  await store.create({ name: 'refused', sinks: { objectStore: { enabled: true, partitionBy: 'hour' } } }, schema);
  await createTopics(config, ['healthy', 'stalled', 'refused'].map((d) => `${config.topicPrefix}${d}`).concat(config.dlqTopic));
  pgSink = new PostgresSink({ connectionString: stackEnv.pgUrl, schema: config.dataSchema });
  outage = new BrokenSink('search', new PostgresSink({ connectionString: stackEnv.pgUrl, schema: config.dataSchema }), 'outage');
  unknown = new BrokenSink('object-store', pgSink, 'unknown');
});

afterAll(async () => {
  await running?.stop();
  await producer?.close();
  await pgSink?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

const dlqRows = async (dataset: string) =>
  (await state.pool.query<{ record_id: string; reason: string }>('SELECT record_id, reason FROM dlq WHERE dataset = $1 ORDER BY record_id', [dataset])).rows;

describe('one dataset never stops the others (real Kafka and PostgreSQL)', () => {
  it('keeps loading a healthy dataset, exactly once, while one sink is down and another fails with an unknown error', async () => {
    const topic = (d: string) => `${config.topicPrefix}${d}`;
    await produceRecords(producer, topic('stalled'), 'stalled', 0, 600);
    await produceRecords(producer, topic('refused'), 'refused', 0, 600);
    await produceRecords(producer, topic('healthy'), 'healthy', 0, 2_000);
    const registry = new SinkRegistry().register('postgres', pgSink).register('search', outage).register('objectStore', unknown);
    running = await startConsumer(config, createLogger('isolation-int', { level: 'warn' }), {
      sinks: { registry, blobs: undefined },
      retry: { minDelayMs: 50, maxDelayMs: 500 },
      breakerResetMs: 500,
    });

    // Load while the broken datasets are stalled: more healthy records keep arriving and loading.
    const healthy = `${config.dataSchema}.healthy`;
    await waitFor('the first 2000 healthy rows', () => countRows(state.pool, healthy), (n) => n === 2_000);
    for (let from = 2_000; from < 8_000; from += 2_000) await produceRecords(producer, topic('healthy'), 'healthy', from, 2_000);
    await waitFor('8000 healthy rows', () => countRows(state.pool, healthy), (n) => n === 8_000);
    expect(outage.healed).toBe(false);
    expect(outage.attempts).toBeGreaterThan(0);
    const paused = (await running.metrics.registry.getSingleMetric('sluice_dataset_paused')!.get()).values;
    expect(paused).toContainEqual(expect.objectContaining({ labels: { dataset: 'stalled' }, value: 1 }));

    // The unknown error is bounded: after the budget its records are in the DLQ, with the store's error.
    const refused = await waitFor('600 refused records in the DLQ', () => dlqRows('refused'), (rows) => rows.length === 600);
    expect(new Set(refused.map((r) => r.record_id)).size).toBe(600);
    for (const r of refused) expect(r.reason).toMatch(/^sink object-store kept failing with an error it does not classify: object-store: writing 1 segment\(s\): XMinioInvalidResourceName/);

    // The outage is waited out: once the store is back, every stalled record arrives, once.
    outage.healed = true;
    const stalled = await waitFor('600 stalled rows', () => rowIds(state.pool, `${config.dataSchema}.stalled`), (ids) => ids.length === 600);
    expect(new Set(stalled).size).toBe(600);
    expect(await dlqRows('stalled')).toEqual([]);

    // Exactly once also in the figures: no record was redelivered and counted twice by a re-subscription.
    const counts = await waitFor(
      'ingest counts',
      async () =>
        (await state.pool.query<{ dataset: string; ingested: string; failed: string }>('SELECT dataset, sum(ingested) AS ingested, sum(failed) AS failed FROM ingest_counts GROUP BY dataset ORDER BY dataset')).rows,
      (rows) => rows.find((r) => r.dataset === 'stalled')?.ingested === '600',
      20_000,
    );
    expect(counts).toEqual([
      { dataset: 'healthy', ingested: '8000', failed: '0' },
      { dataset: 'refused', ingested: '0', failed: '600' },
      { dataset: 'stalled', ingested: '600', failed: '0' },
    ]);
    expect(await countRows(state.pool, healthy)).toBe(8_000);
    expect(await countRows(state.pool, `${config.dataSchema}.refused`).catch(() => 0)).toBe(0);
  });
});
