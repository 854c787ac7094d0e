/**
 * Ingestion jobs end to end on the local stack: a folder job created through the REST API, run by a worker
 * (lake/jobs/worker.ts) that publishes through Kafka, loaded by a real consumer into PostgreSQL; run twice,
 * every record is there exactly once (ids from the file and the byte offset). Also an S3-prefix backfill
 * from MinIO (a bad line goes to the DLQ and is reported per batch), a Kafka offset-range replay of plain
 * JSON messages, and a REST API read over a time range through cursor pagination, from a local API server.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics, KafkaProducer } from '@sluice/shared/node/kafka';
import { ownTopics } from '@sluice/shared/node/testing/test-resources';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { jobsCommand, progressBar } from '../src/lake/jobs/jobs-cli.ts';
import { jobKindRegistry } from '../src/lake/jobs/kinds.ts';
import { LakeWorker } from '../src/lake/jobs/worker.ts';
import { gzipSync } from 'node:zlib';
import { createS3Client } from '../src/sinks/object-store/object-store-sink.ts';
import { objectStoreSinkConfig } from '../src/sinks/registry.ts';
import { countRows, createTopics, removeBucket, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } as const;
const FILES = 5;
const LINES = 200;

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let folder: string;
let producer: KafkaProducer;
let consumer: RunningConsumer | undefined;
let worker: LakeWorker | undefined;
let server: TestServer;
let key = '';
const bucket = `lake-jobs-${Date.now().toString(36)}`;
const replayTopic = `lake-jobs-replay-${Date.now().toString(36)}`;

beforeAll(async () => {
  state = await freshState();
  folder = await mkdtemp(join(tmpdir(), 'lake-jobs-'));
  config = testConfig(state.schema, { SLUICE_JOB_FOLDER_ROOTS: folder, SLUICE_JOB_POLL_MS: '100', SLUICE_JOB_BATCH_FILES: '2' });
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'lake-jobs-int' });
  for (const name of ['jobs', 'jobs_s3', 'jobs_kafka', 'jobs_rest']) await new DatasetStore(state.pool).create({ name, sinks: { postgres: { enabled: true } } }, schema);
  await createTopics(config, [`${config.topicPrefix}jobs`, `${config.topicPrefix}jobs_s3`, `${config.topicPrefix}jobs_kafka`, `${config.topicPrefix}jobs_rest`, config.dlqTopic]);
  // The third-party topic a replay reads: one partition, so the test knows its offsets.
  ownTopics(replayTopic);
  await ensureTopics(stackEnv.kafkaBrokers, [{ name: replayTopic, partitions: 1 }]);
  for (let f = 0; f < FILES; f++) {
    await writeFile(join(folder, `part-${f}.ndjson`), Array.from({ length: LINES }, (_, i) => JSON.stringify({ n: f * LINES + i })).join('\n'));
  }
  process.env.SLUICE_JOB_FOLDER_ROOTS = folder;
  server = await testServer(state.pool, { topicPrefix: config.topicPrefix });
  key = (await new ApiKeyStore(state.pool).create('operator', 'jobs test')).key;
  const logger = createLogger('lake-jobs-int', { level: 'warn' });
  consumer = await startConsumer(config, logger);
  worker = new LakeWorker({ pool: state.pool, config, logger, registry: jobKindRegistry(), datasets: new DatasetStore(state.pool), send: (m) => producer.send(m) });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await consumer?.stop();
  await server?.close();
  await producer?.close();
  await rm(folder, { recursive: true, force: true });
  await removeBucket(bucket).catch(() => undefined);
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

interface JobAnswer {
  state: string;
  errors: Array<{ key: string; recordErrors: Array<{ position: string; reason: string }> }>;
  progress: { records: number; batches: { total: number; done: number } };
}

async function runJob(dataset = 'jobs', source: Record<string, unknown> = { kind: 'folder', path: folder }): Promise<JobAnswer> {
  const created = await server.app.inject({ method: 'POST', url: '/api/v1/ingestion/jobs', headers: { authorization: `Bearer ${key}` }, payload: { dataset, source, start: true } });
  expect(created.statusCode, created.body).toBe(201);
  const { id } = created.json<{ id: string }>();
  return waitFor<JobAnswer>(
    'the job to finish',
    async () => (await server.app.inject({ method: 'GET', url: `/api/v1/ingestion/jobs/${id}`, headers: { authorization: `Bearer ${key}` } })).json(),
    (job) => ['succeeded', 'failed', 'cancelled'].includes(job.state),
    60_000,
  );
}

/**
 * A paged REST API: records with `updatedAt` over three days, filtered by `updated_since`/`updated_before`,
 * 25 a page with a cursor in `meta.next`; bearer auth. The first page of the second day answers 503 once.
 */
const REST_DAY0 = Date.UTC(2026, 10, 1);
const REST_RECORDS = Array.from({ length: 300 }, (_, i) => ({ id: `item-${i}`, n: 10_000 + i, updatedAt: new Date(REST_DAY0 + i * 864_000).toISOString() }));
const REST_TOKEN = 'rest-secret-token';
const restCalls: string[] = [];
let failedOnce = false;
async function restApi(): Promise<{ server: Server; base: string }> {
  const srv = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    restCalls.push(url.search);
    if (req.headers.authorization !== `Bearer ${REST_TOKEN}`) return void res.writeHead(401).end('{"error":"no"}');
    const since = Date.parse(url.searchParams.get('updated_since') ?? '');
    const before = Date.parse(url.searchParams.get('updated_before') ?? '');
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    if (since === REST_DAY0 + 86_400_000 && cursor === 0 && !failedOnce) {
      failedOnce = true;
      return void res.writeHead(503, { 'retry-after': '0' }).end();
    }
    const all = REST_RECORDS.filter((r) => Date.parse(r.updatedAt) >= since && Date.parse(r.updatedAt) < before);
    const page = all.slice(cursor, cursor + 25);
    const next = cursor + 25 < all.length ? String(cursor + 25) : null;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: page, meta: { next } }));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { server: srv, base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}` };
}

describe('ingestion jobs', () => {
  it('loads a folder through Kafka, and a second run adds nothing', async () => {
    const first = await runJob();
    expect(first.state, JSON.stringify(first)).toBe('succeeded');
    expect(first.progress.records).toBe(FILES * LINES);
    expect(first.progress.batches).toMatchObject({ total: 3, done: 3 });
    await waitFor('rows loaded', () => countRows(state.pool, `${config.dataSchema}.jobs`).catch(() => 0), (n) => n === FILES * LINES, 60_000);
    const second = await runJob();
    expect(second.state).toBe('succeeded');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await countRows(state.pool, `${config.dataSchema}.jobs`)).toBe(FILES * LINES);
  });

  it('backfills an S3 prefix: every object once, a malformed line to the DLQ with its position', async () => {
    const s3 = createS3Client(objectStoreSinkConfig(config));
    await s3.makeBucket(bucket);
    const OBJECTS = 12;
    for (let o = 0; o < OBJECTS; o++) {
      const lines = Array.from({ length: 100 }, (_, i) => JSON.stringify({ n: o * 100 + i })).join('\n');
      const body = o % 2 === 0 ? gzipSync(lines) : Buffer.from(lines);
      await s3.putObject(bucket, `in/day=${o % 3}/obj-${o}.ndjson${o % 2 === 0 ? '.gz' : ''}`, body);
    }
    await s3.putObject(bucket, 'in/bad.ndjson', Buffer.from('{"n": 5000}\n{not json\n'));
    await s3.putObject(bucket, 'elsewhere/skip.ndjson', Buffer.from('{"n": 9999}\n'));
    const job = await runJob('jobs_s3', { kind: 's3', bucket, prefix: 'in/' });
    expect(job.state, JSON.stringify(job)).toBe('succeeded');
    expect(job.errors).toEqual([
      expect.objectContaining({ key: 's3:in/bad.ndjson', recordErrors: [{ position: `s3://${bucket}/in/bad.ndjson 2`, reason: expect.stringContaining('line 2 is not JSON') as unknown as string }] }),
    ]);
    const expected = OBJECTS * 100 + 1;
    await waitFor('rows loaded', () => countRows(state.pool, `${config.dataSchema}.jobs_s3`).catch(() => 0), (n) => n === expected, 60_000);
    const again = await runJob('jobs_s3', { kind: 's3', bucket, prefix: 'in/' });
    expect(again.state).toBe('succeeded');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await countRows(state.pool, `${config.dataSchema}.jobs_s3`)).toBe(expected);
  });

  it('replays a Kafka offset range of plain JSON messages, ids from topic, partition and offset', async () => {
    await producer.send(Array.from({ length: 300 }, (_, i) => ({ topic: replayTopic, key: `k${i}`, headers: {}, value: Buffer.from(JSON.stringify({ n: i })) })));
    const range = { kind: 'kafka', topic: replayTopic, ranges: [{ partition: 0, from: 100, to: 250 }] };
    const job = await runJob('jobs_kafka', range);
    expect(job.state, JSON.stringify(job)).toBe('succeeded');
    await waitFor('rows loaded', () => countRows(state.pool, `${config.dataSchema}.jobs_kafka`).catch(() => 0), (n) => n === 150, 60_000);
    const { rows } = await state.pool.query<{ min: number; max: number }>(`SELECT min((payload->>'n')::int) AS min, max((payload->>'n')::int) AS max FROM ${config.dataSchema}.jobs_kafka`);
    expect(rows[0]).toEqual({ min: 100, max: 249 });
    expect((await runJob('jobs_kafka', range)).state).toBe('succeeded');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await countRows(state.pool, `${config.dataSchema}.jobs_kafka`)).toBe(150);
  });

  it('reads a REST API over a time range through its cursor pagination: every record once, also when run again', async () => {
    const { server: api, base } = await restApi();
    process.env.SLUICE_JOB_TEST_REST_TOKEN = REST_TOKEN;
    try {
      const source = {
        kind: 'rest',
        url: `${base}/v1/items?status=any`,
        auth: { bearerEnv: 'SLUICE_JOB_TEST_REST_TOKEN' },
        recordsPath: 'data',
        idField: '/id',
        pagination: { type: 'cursor', cursorPath: 'meta.next', param: 'cursor' },
        range: { param: 'updated_since', toParam: 'updated_before', from: new Date(REST_DAY0).toISOString(), to: new Date(REST_DAY0 + 3 * 86_400_000).toISOString(), sliceMinutes: 1440 },
      };
      const job = await runJob('jobs_rest', source);
      expect(job.state, JSON.stringify(job)).toBe('succeeded');
      expect(job.progress.batches).toMatchObject({ total: 3, done: 3 });
      expect(job.progress.records).toBe(300);
      // 3 slices of 4 pages, one page asked twice (its 503); every request kept the fixed query parameter.
      expect(restCalls.filter((q) => q.includes('status=any'))).toHaveLength(13);
      expect(failedOnce).toBe(true);
      await waitFor('rows loaded', () => countRows(state.pool, `${config.dataSchema}.jobs_rest`).catch(() => 0), (n) => n === 300, 60_000);
      expect((await runJob('jobs_rest', source)).state).toBe('succeeded');
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const { rows } = await state.pool.query<{ n: string; distinct: string; min: number; max: number }>(
        `SELECT count(*) AS n, count(DISTINCT payload->>'id') AS distinct, min((payload->>'n')::int) AS min, max((payload->>'n')::int) AS max FROM ${config.dataSchema}.jobs_rest`,
      );
      expect(rows[0]).toEqual({ n: '300', distinct: '300', min: 10_000, max: 10_299 });
      // Without the secret on the worker: a permanent, named failure.
      delete process.env.SLUICE_JOB_TEST_REST_TOKEN;
      const refused = await runJob('jobs_rest', { ...source, range: undefined });
      expect(refused.state).toBe('failed');
      expect(JSON.stringify(refused.errors)).toContain('SLUICE_JOB_TEST_REST_TOKEN is not set on this worker');
    } finally {
      delete process.env.SLUICE_JOB_TEST_REST_TOKEN;
      api.close();
    }
  });

  it('the jobs CLI creates, watches, lists and cancels jobs through the API', async () => {
    const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
    let printed = '';
    const out = Object.assign(new Writable({ write: (chunk: Buffer, _enc, done) => { printed += chunk.toString(); done(); } }), { isTTY: false });
    const io = { env: { SLUICE_API_URL: url, SLUICE_TOKEN: key }, out, pollMs: 100 };
    expect(await jobsCommand(['create', '--dataset', 'jobs', '--source', JSON.stringify({ kind: 'folder', path: folder }), '--watch'], io)).toBe(0);
    expect(printed).toMatch(/^job_\S+ queued \(folder → jobs\)\n/);
    expect(printed).toMatch(/succeeded 3\/3 batches, 1000 records/);
    printed = '';
    expect(await jobsCommand(['create', '--dataset', 'jobs', '--source', JSON.stringify({ kind: 'folder', path: folder }), '--no-start'], io)).toBe(0);
    const id = /^(job_\S+) created/.exec(printed)?.[1];
    expect(id).toBeDefined();
    printed = '';
    expect(await jobsCommand(['cancel', id!], io)).toBe(0);
    expect(printed).toBe(`${id} cancelled\n`);
    printed = '';
    expect(await jobsCommand(['list', '--state', 'cancelled'], io)).toBe(0);
    expect(printed).toContain(id);
    expect(await jobsCommand(['watch', id!], io)).toBe(1);
    await expect(jobsCommand(['create', '--dataset', 'jobs', '--source', '{"kind":"nope"}'], io)).rejects.toThrow(/POST \/api\/v1\/ingestion\/jobs: 400/);
    await expect(jobsCommand(['list'], { ...io, env: { SLUICE_API_URL: url } })).rejects.toThrow(/SLUICE_TOKEN/);
    const bar = progressBar({ batches: { total: 4, done: 2, failed: 0 }, records: 50, bytes: 0, recordsPerSecond: 10, percent: null, etaSeconds: 5 }, 100);
    expect(bar).toMatch(/^\[#+-+\] 50% 2\/4 batches, 50 records, 10 rec\/s ETA 5s$/);
  });
});
