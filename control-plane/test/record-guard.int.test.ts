/**
 * One verdict per record, through the real consumer into PostgreSQL, OpenSearch and MinIO: a record one
 * store would refuse is dead-lettered before any store writes it, and lands in none of them. A refusal the
 * guard could not foresee is recorded on its DLQ entry with the stores that hold the record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaProducer, type OutgoingMessage } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { envelope } from './support/messages.ts';
import { createTopics, deleteSearchIndices, envelopeMessage, objectIds, removeBucket, rowIds, searchCount, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;
const bucket = `guard-${suffix()}`;
const datasets: string[] = [];

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema, { SLUICE_S3_BUCKET: bucket });
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'guard-int' });
});

afterAll(async () => {
  await running?.stop();
  await producer?.close();
  for (const name of datasets) await deleteSearchIndices(`sluice-${name}`);
  await removeBucket(bucket);
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

/** A dataset of the test's own with all three sinks, its topic, and a running consumer that follows it. */
async function dataset(what: string): Promise<{ name: string; topic: string }> {
  const name = `${what}_${suffix()}`.replace(/[^a-z0-9_]/g, '');
  datasets.push(name);
  await new DatasetStore(state.pool).create(
    { name, sinks: { postgres: { enabled: true }, search: { enabled: true }, objectStore: { enabled: true, partitionBy: 'hour' } } },
    { type: 'object', required: ['device'], properties: { device: { type: 'string' } } },
  );
  const topic = `${config.topicPrefix}${name}`;
  await createTopics(config, [topic, config.dlqTopic]);
  running ??= await startConsumer(config, createLogger('guard-int', { level: 'warn' }));
  return { name, topic };
}

async function dlqReasons(name: string, count: number): Promise<Array<{ record_id: string; reason: string }>> {
  return waitFor(
    `${count} DLQ rows of ${name}`,
    async () => (await state.pool.query<{ record_id: string; reason: string }>('SELECT record_id, reason FROM dlq WHERE dataset = $1 ORDER BY record_id', [name])).rows,
    (rows) => rows.length >= count,
  );
}

describe('record guard through the real consumer and all three stores', () => {
  it('NUL, too deep, too many fields and 1.23e29: dead-lettered with their reasons, in NO store', async () => {
    const { name, topic } = await dataset('guard');
    const key = 'one-partition';
    const msg = (id: string, payload: unknown): OutgoingMessage => ({ ...envelopeMessage(topic, envelope(name, id, payload)), key });
    // Too deep for JSON.stringify: the levels go into the bytes the way any producer could send them.
    const deepText = JSON.stringify(envelope(name, 'bad-deep', { device: 'd', deep: 'DEEP' })).replace('"DEEP"', '['.repeat(5000) + ']'.repeat(5000));
    const wide: Record<string, string> = { device: 'w', ...Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`c${i}`, 'v'])) };
    await producer.send([
      msg('good-0', { device: 'a', n: 5 }),
      msg('bad-nul', { device: 'a\u0000b' }),
      { ...msg('bad-deep', null), value: Buffer.from(deepText) },
      msg('bad-wide', wide),
      msg('bad-number', { device: 'a', n: 1.23e29 }),
      msg('good-1', { device: 'b', n: 6 }),
    ]);
    const table = `${config.dataSchema}.${name}`;
    await waitFor('2 rows in PostgreSQL', () => rowIds(state.pool, table), (ids) => ids.length === 2);
    const dlq = await dlqReasons(name, 4);
    expect(dlq.map((r) => [r.record_id, r.reason])).toEqual([
      ['bad-deep', expect.stringMatching(/^refused before any store: nested more than 16 levels deep/)],
      ['bad-nul', 'refused before any store: payload.device: contains a NUL character (\\u0000), which PostgreSQL cannot store'],
      ['bad-number', expect.stringMatching(/^refused before any store: payload\.n: number 1\.23e\+29 is beyond ±9007199254740991/)],
      ['bad-wide', expect.stringMatching(/^refused before any store: has more than 400 distinct fields/)],
    ]);
    expect(await rowIds(state.pool, table)).toEqual(['good-0', 'good-1']);
    await waitFor('2 search documents', () => searchCount(`sluice-${name}`), (n) => n === 2);
    expect(await waitFor('2 objects', () => objectIds(bucket, name), (ids) => ids.length === 2)).toEqual(['good-0', 'good-1']);
  });

  it('a refusal nobody could foresee (a type an earlier record fixed) names the stores that hold the record', async () => {
    const { name, topic } = await dataset('unforeseen');
    await producer.send([envelopeMessage(topic, envelope(name, 'first', { device: 'a', n: 5 }))]);
    const table = `${config.dataSchema}.${name}`;
    await waitFor('first row', () => rowIds(state.pool, table), (ids) => ids.length === 1);
    await waitFor('first document', () => searchCount(`sluice-${name}`), (n) => n === 1);
    // `n` is a long in the index now (dynamic mapping): a string there is refused by search alone.
    await producer.send([envelopeMessage(topic, envelope(name, 'second', { device: 'a', n: 'five' }))]);
    const [entry] = await dlqReasons(name, 1);
    expect(entry?.record_id).toBe('second');
    expect(entry?.reason).toMatch(/^sink search rejected the record: .*; stored in postgres, object-store$/);
    expect(await rowIds(state.pool, table)).toEqual(['first', 'second']);
  });
});
