import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_TYPES, KAFKA_HEADERS } from '@sluice/shared/envelope';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { DLQ_HEADERS } from '../src/consumer/dead-letters.ts';
import { envelope } from './support/messages.ts';
import { countRows, createTopics, envelopeMessage, readTopic, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema, { SLUICE_MAX_RECORD_BYTES: '4096' });
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'dlq-int' });
  await new DatasetStore(state.pool).create(
    { name: 'sensors', sinks: { postgres: { enabled: true } } },
    { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } },
  );
  await createTopics(config, [`${config.topicPrefix}sensors`, config.dlqTopic]);
});

afterAll(async () => {
  await running?.stop();
  await producer?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

describe('consumer: bad records end in the DLQ (Kafka topic + table) while valid ones flow on', () => {
  it('dead-letters invalid, unknown-dataset, unparsed, oversize and poison records with readable reasons', async () => {
    const topic = `${config.topicPrefix}sensors`;
    const key = 'same-key-so-one-partition';
    const good = (i: number) => ({ ...envelopeMessage(topic, envelope('sensors', `good-${i}`, { device: 'a', temperature: i })), key });
    await producer.send([
      good(0),
      { ...envelopeMessage(topic, envelope('sensors', 'bad-type', { device: 'a', temperature: 'hot' })), key },
      good(1),
      { ...envelopeMessage(topic, envelope('ghosts', 'ghost-1', { device: 'a' })), key },
      { ...envelopeMessage(topic, envelope('sensors', 'unparsed', null, { parseError: { reason: 'unexpected end of JSON input', raw: '{"device":' } })), key },
      { ...envelopeMessage(topic, envelope('sensors', 'huge', { device: 'x'.repeat(10_000) })), key },
      { topic, key, value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]), headers: { [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope } },
      good(2),
    ]);
    running = await startConsumer(config, createLogger('dlq-int', { level: 'warn' }));
    const table = `${config.dataSchema}.sensors`;
    await waitFor('3 valid rows', () => countRows(state.pool, table), (n) => n === 3);
    const dlq = await waitFor(
      '5 DLQ rows',
      async () => (await state.pool.query<{ record_id: string | null; reason: string; original: Buffer; schema_version: number | null }>('SELECT record_id, reason, original, schema_version FROM dlq ORDER BY "offset"')).rows,
      (rows) => rows.length === 5,
    );
    expect(dlq.map((r) => r.reason)).toEqual([
      'does not match schema version 1 of sensors: /temperature: must be number',
      'unknown dataset ghosts',
      'could not be parsed at the source: unexpected end of JSON input',
      expect.stringMatching(/^record is \d+ bytes, larger than the limit of 4096 bytes$/),
      'not a Sluice envelope: the value is not UTF-8 text (5 bytes, starting deadbeef00)',
    ]);
    expect(dlq[0]).toMatchObject({ record_id: 'bad-type', schema_version: 1 });
    expect(dlq[4]!.original).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]));

    const onTopic = await readTopic(config.dlqTopic, 5);
    // The DLQ topic is keyed by origin position, so entries spread over its partitions: compare as sets.
    expect(onTopic.map((m) => m.headers[DLQ_HEADERS.reason]).sort()).toEqual(dlq.map((r) => r.reason).sort());
    expect(onTopic.find((m) => m.headers[DLQ_HEADERS.reason]!.includes('UTF-8'))!.value).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]));

    // Offsets were committed past the poison: nothing is redelivered, the partition is not blocked.
    await producer.send([good(3)]);
    await waitFor('4th valid row', () => countRows(state.pool, table), (n) => n === 4);
    // Per-minute counts are flushed about once a second, off the batch path.
    const counts = await waitFor(
      'ingest counts',
      async () => (await state.pool.query<{ ingested: string | null; failed: string | null }>('SELECT sum(ingested) AS ingested, sum(failed) AS failed FROM ingest_counts')).rows[0],
      (row) => row?.ingested === '4',
      20_000,
    );
    expect(counts).toEqual({ ingested: '4', failed: '5' });
  });
});
