import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { envelopeHeaders, type Envelope } from '@sluice/shared/envelope';
import { ownSchemas, ownSearchIndices, ownTopics, testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor as poll } from '@sluice/shared/node/testing/wait-for';
import { KafkaConsumer, ensureTopics, type KafkaProducer, type IncomingMessage, type OutgoingMessage } from '@sluice/shared/node/kafka';
import { loadConfig, type ControlPlaneConfig } from '../../src/config.ts';
import { envelope } from './messages.ts';
import { stackEnv, suffix } from './state.ts';

/** The local stack's control script (fault tests stop and start services with it). */
export const STACK_SH = fileURLToPath(new URL('../../../scripts/stack.sh', import.meta.url));

/** Config for one test: its own state schema, data schema, topic prefix, DLQ topic and consumer group. */
export function testConfig(stateSchema: string, overrides: Record<string, string> = {}): ControlPlaneConfig & { id: string } {
  const id = suffix();
  const prefix = testTopicPrefix(`cp${id}`);
  ownSchemas(`cp_data_${id}`);
  const config = loadConfig({
    ...process.env,
    SLUICE_STATE_SCHEMA: stateSchema,
    SLUICE_DATA_SCHEMA: `cp_data_${id}`,
    SLUICE_TOPIC_PREFIX: prefix,
    SLUICE_DLQ_TOPIC: `${prefix}dlq`,
    SLUICE_CONSUMER_GROUP: `cp-test-${id}`,
    SLUICE_TOPIC_REFRESH_MS: '500',
    SLUICE_BATCH_MAX_WAIT_MS: '100',
    // Never the default port: a running `npm start` consumer holds it, and tests run side by side.
    SLUICE_CONSUMER_METRICS_PORT: '0',
    ...overrides,
  });
  return { ...config, id };
}

/** Env for a consumer child process running the same config. */
export function childEnv(config: ControlPlaneConfig): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SLUICE_STATE_SCHEMA: config.stateSchema,
    SLUICE_DATA_SCHEMA: config.dataSchema,
    SLUICE_TOPIC_PREFIX: config.topicPrefix,
    SLUICE_DLQ_TOPIC: config.dlqTopic,
    SLUICE_CONSUMER_GROUP: config.groupId,
    SLUICE_TOPIC_REFRESH_MS: String(config.topicRefreshMs),
    SLUICE_BATCH_MAX_WAIT_MS: String(config.batch.maxWaitMs),
    SLUICE_BATCH_MAX_RECORDS: String(config.batch.maxRecords),
    SLUICE_BATCH_IN_FLIGHT: String(config.batch.maxInFlight),
    SLUICE_MAX_RECORD_BYTES: String(config.maxRecordBytes),
    SLUICE_S3_BUCKET: config.s3.bucket,
    SLUICE_CONSUMER_METRICS_PORT: String(config.consumerMetrics.port),
    SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn',
  };
}

export function envelopeMessage(topic: string, env: Envelope): OutgoingMessage {
  return {
    topic,
    key: env.id,
    value: Buffer.from(JSON.stringify(env)),
    headers: envelopeHeaders(env.dataset, env.agentId, env.schemaVersion),
  };
}

export async function produceRecords(producer: KafkaProducer, topic: string, dataset: string, from: number, count: number, batch = 500): Promise<string[]> {
  const ids: string[] = [];
  for (let start = from; start < from + count; start += batch) {
    const messages: OutgoingMessage[] = [];
    for (let i = start; i < Math.min(start + batch, from + count); i++) {
      const id = `rec-${String(i).padStart(7, '0')}`;
      ids.push(id);
      messages.push(envelopeMessage(topic, envelope(dataset, id, { device: `d${i % 7}`, temperature: i / 10 })));
    }
    await producer.send(messages);
  }
  return ids;
}

export async function createTopics(config: ControlPlaneConfig, names: string[]): Promise<void> {
  ownTopics(...names);
  await ensureTopics(stackEnv.kafkaBrokers, names.map((name) => ({ name, partitions: 3 })));
}

/**
 * Probes a store until `done` holds for what it answers, and returns that answer (a falsy one too). A probe
 * that throws counts as not yet: fault tests take a store down on purpose.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 120_000): Promise<T> {
  let last: T | undefined;
  const hit = await poll(
    async () => {
      last = await probe();
      return done(last) ? { value: last } : undefined;
    },
    { timeoutMs, intervalMs: 250, what, detail: () => `last value ${JSON.stringify(last, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}` },
  );
  return hit.value;
}

export async function rowIds(pool: pg.Pool, table: string): Promise<string[]> {
  const res = await pool.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`);
  return res.rows.map((r) => r.id);
}

export async function countRows(pool: pg.Pool, table: string): Promise<number> {
  const res = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(res.rows[0]?.n ?? 0);
}

/** Reads `count` messages of a topic from the start (its own throwaway group). */
export async function readTopic(topic: string, count: number, timeoutMs = 60_000): Promise<IncomingMessage[]> {
  const consumer = new KafkaConsumer({ brokers: stackEnv.kafkaBrokers, clientId: 'test-reader', groupId: `reader-${suffix()}`, topics: [topic] });
  const out: IncomingMessage[] = [];
  const timer = setTimeout(() => void consumer.stopMessages(), timeoutMs);
  try {
    for await (const m of consumer.messages()) {
      out.push(m);
      if (out.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
  return out;
}

/** Documents in a dataset's daily indices, after a refresh. */
export async function searchCount(prefix: string): Promise<number> {
  await fetch(`${stackEnv.searchUrl}/${prefix}-*/_refresh`, { method: 'POST' });
  const res = await fetch(`${stackEnv.searchUrl}/${prefix}-*/_count`);
  if (!res.ok) throw new Error(`search count ${res.status}`);
  return ((await res.json()) as { count: number }).count;
}

export async function deleteSearchIndices(prefix: string): Promise<void> {
  ownSearchIndices(`${prefix}-*`);
  await fetch(`${stackEnv.searchUrl}/${prefix}-*`, { method: 'DELETE' }).catch(() => undefined);
  await fetch(`${stackEnv.searchUrl}/_index_template/${prefix}`, { method: 'DELETE' }).catch(() => undefined);
}

/** Every record id in the bucket's NDJSON segments under `prefix`, sorted, duplicates kept. */
export async function objectIds(bucket: string, prefix: string): Promise<string[]> {
  const { gunzipSync } = await import('node:zlib');
  const { createS3Client } = await import('../../src/sinks/object-store/object-store-sink.ts');
  const client = createS3Client({ endpoint: stackEnv.s3.endpoint, accessKey: stackEnv.s3.accessKey, secretKey: stackEnv.s3.secretKey });
  const ids: string[] = [];
  for await (const item of client.listObjectsV2(bucket, `${prefix}/`, true) as AsyncIterable<{ name?: string }>) {
    if (!item.name?.endsWith('.ndjson.gz')) continue;
    const stream = await client.getObject(bucket, item.name);
    const chunks: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    for (const line of gunzipSync(Buffer.concat(chunks)).toString('utf8').split('\n')) {
      if (line.trim() !== '') ids.push((JSON.parse(line) as { id: string }).id);
    }
  }
  return ids.sort();
}

export async function removeBucket(bucket: string): Promise<void> {
  const { ObjectStoreSink } = await import('../../src/sinks/object-store/object-store-sink.ts');
  const sink = new ObjectStoreSink({ endpoint: stackEnv.s3.endpoint, accessKey: stackEnv.s3.accessKey, secretKey: stackEnv.s3.secretKey, bucket });
  await sink.removeBucket().catch(() => undefined);
}
