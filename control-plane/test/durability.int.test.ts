/**
 * Durability against the real stack: consumer CHILD processes killed with SIGKILL, a consumer group
 * rebalancing, PostgreSQL stopped for 30 s under load. Each test counts exactly what arrived: every
 * produced id once, nothing else.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KafkaProducer, describeGroup } from '@sluice/shared/node/kafka';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { STACK_SH, childEnv, countRows, deleteSearchIndices, objectIds, removeBucket, searchCount, createTopics, produceRecords, rowIds, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

const BIN = fileURLToPath(new URL('../bin/sluice-control-plane.js', import.meta.url));
const run = promisify(execFile);

let state: Awaited<ReturnType<typeof freshState>>;
let producer: KafkaProducer;
const children = new Set<ChildProcess>();

function startChild(config: ReturnType<typeof testConfig>): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'consume'], { env: childEnv(config), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (code !== 0 && code !== null && signal === null) process.stderr.write(`consumer child exited ${code}: ${stderr}\n`);
  });
  children.add(child);
  return child;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

const cleanups: Array<() => Promise<void>> = [];

async function setup(base: string, options: { allSinks?: boolean } = {}) {
  const config = testConfig(state.schema, { SLUICE_BATCH_MAX_RECORDS: '1000' });
  // Unique per run: the search index and object prefix derive from the dataset name.
  const datasetName = `${base}_${config.id}`;
  const bucket = `cp-test-${config.id}`;
  config.s3.bucket = bucket;
  cleanups.push(() => deleteSearchIndices(`sluice-${datasetName}`), () => removeBucket(bucket));
  const all = options.allSinks === true;
  await new DatasetStore(state.pool).create(
    {
      name: datasetName,
      sinks: { postgres: { enabled: true }, search: { enabled: all }, objectStore: { enabled: all, partitionBy: 'hour' } },
    },
    { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } },
  );
  dataSchemas.push(config.dataSchema);
  const topic = `${config.topicPrefix}${datasetName}`;
  await createTopics(config, [topic, config.dlqTopic]);
  return { config, topic, datasetName, bucket, table: `${config.dataSchema}.${datasetName}` };
}

beforeAll(async () => {
  state = await freshState();
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'durability-int' });
});

afterEach(async () => {
  for (const child of [...children]) await stopChild(child, 'SIGKILL');
});

const dataSchemas: string[] = [];

afterAll(async () => {
  await producer?.close();
  for (const schema of dataSchemas) await state.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  for (const cleanup of cleanups) await cleanup();
  await state?.drop();
});

describe('consumer durability (real Kafka + PostgreSQL, consumer child processes)', () => {
  it('kill -9 of the consumer mid-stream, then a restart: every record exactly once', async () => {
    const { config, topic, table, datasetName, bucket } = await setup('killed', { allSinks: true });
    const total = 30_000;
    const ids = await produceRecords(producer, topic, datasetName, 0, total);
    const first = startChild(config);
    const partial = await waitFor('some rows', () => countRows(state.pool, table), (n) => n >= 3_000, 120_000);
    await stopChild(first, 'SIGKILL');
    const afterKill = await countRows(state.pool, table);
    expect(afterKill).toBeGreaterThanOrEqual(partial);
    expect(afterKill).toBeLessThan(total);

    startChild(config);
    await waitFor(`${total} rows`, () => countRows(state.pool, table), (n) => n >= total, 200_000);
    // The sinks are written in parallel and the batch committed after all of them: the others follow.
    await waitFor(`${total} documents`, () => searchCount(`sluice-${datasetName}`), (n) => n >= total, 60_000);
    await waitFor(`${total} object records`, async () => (await objectIds(bucket, datasetName)).length, (n) => n >= total, 60_000);
    expect(await rowIds(state.pool, table)).toEqual(ids);
    expect(await searchCount(`sluice-${datasetName}`)).toBe(total);
    expect(await objectIds(bucket, datasetName)).toEqual(ids);
    const dlq = await state.pool.query('SELECT count(*)::int AS n FROM dlq WHERE dataset = $1', [datasetName]);
    expect(dlq.rows[0]).toEqual({ n: 0 });
  }, 600_000);

  it('two consumer processes share the partitions; stopping one rebalances and loses nothing', async () => {
    const { config, topic, table, datasetName } = await setup('shared');
    const a = startChild(config);
    startChild(config);
    // Both members hold partitions of the dataset topic: the load is shared, not failed over.
    const members = await waitFor(
      'two members sharing the partitions',
      () => describeGroup(stackEnv.kafkaBrokers, config.groupId),
      (m) => m.length === 2 && m.every((member) => member.partitions.some((p) => p.topic === topic)),
      90_000,
    );
    expect(members.flatMap((m) => m.partitions.filter((p) => p.topic === topic).map((p) => p.partition)).sort()).toEqual([0, 1, 2]);
    const firstHalf = await produceRecords(producer, topic, datasetName, 0, 10_000);
    await waitFor('first half', () => countRows(state.pool, table), (n) => n >= 5_000, 120_000);
    await stopChild(a, 'SIGTERM');
    await waitFor('one member left with every partition', () => describeGroup(stackEnv.kafkaBrokers, config.groupId), (m) => m.length === 1 && m[0]!.partitions.filter((p) => p.topic === topic).length === 3, 90_000);
    const secondHalf = await produceRecords(producer, topic, datasetName, 10_000, 10_000);
    await waitFor('all rows', () => countRows(state.pool, table), (n) => n >= 20_000, 150_000);
    expect(await rowIds(state.pool, table)).toEqual([...firstHalf, ...secondHalf]);
  });

  // Every store is checked in every outage: the stopped one must catch up, the others must not duplicate.
  it.each(['postgres', 'minio', 'opensearch'])(
    '%s stopped for 30 s during a load: the consumer waits, resumes by itself, nothing lost or duplicated',
    async (service) => {
      const { config, topic, table, datasetName, bucket } = await setup(`outage_${service}`, { allSinks: true });
      startChild(config);
      const ids = await produceRecords(producer, topic, datasetName, 0, 5_000);
      await waitFor('rows before the outage', () => countRows(state.pool, table), (n) => n >= 1_000, 120_000);
      await run('bash', [STACK_SH, 'svc', 'stop', service], { timeout: 120_000 });
      try {
        ids.push(...(await produceRecords(producer, topic, datasetName, 5_000, 5_000)));
        await sleep(30_000);
        if (service !== 'postgres') {
          // Paused, not skipping ahead: at most the stalled batch reached PostgreSQL, nothing after it.
          expect(await countRows(state.pool, table)).toBeLessThan(10_000);
        }
      } finally {
        await run('bash', [STACK_SH, 'svc', 'start', service], { timeout: 300_000 });
      }
      ids.push(...(await produceRecords(producer, topic, datasetName, 10_000, 2_000)));
      const total = ids.length;
      await waitFor('every row', () => countRows(state.pool, table), (n) => n >= total, 240_000);
      await waitFor('every document', () => searchCount(`sluice-${datasetName}`), (n) => n >= total, 240_000);
      await waitFor('every object record', async () => (await objectIds(bucket, datasetName)).length, (n) => n >= total, 240_000);
      expect(await rowIds(state.pool, table)).toEqual(ids);
      expect(await searchCount(`sluice-${datasetName}`)).toBe(total);
      expect(await objectIds(bucket, datasetName)).toEqual(ids);
      const dlq = await state.pool.query('SELECT count(*)::int AS n FROM dlq WHERE dataset = $1', [datasetName]);
      expect(dlq.rows[0]).toEqual({ n: 0 });
    },
    900_000,
  );
});
