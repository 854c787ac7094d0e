/**
 * Data-lake benchmarks, printing one JSON object with a key per part:
 *   - compaction: a partition of gzip NDJSON segments (written by the real object-store sink into MinIO) turned
 *     into zstd Parquet by compactPartition: input MB/s (gzip and uncompressed), records/s, Parquet size vs the
 *     gzip NDJSON, this process's CPU and the machine's load average; pyarrow reads the output back to check it.
 *   - jobs: an `s3` ingestion job over a prefix of NDJSON objects in MinIO, run by one in-process worker
 *     (lake/jobs/worker.ts) publishing through Kafka, loaded by one consumer into PostgreSQL and the object
 *     store: records/s per worker (job start → job succeeded) and end to end (→ the last row in PostgreSQL),
 *     then p50/p99 of the jobs and partitions routes of a real `serve` process.
 * More parts are added to PARTS; each gets its own schema and bucket names from `id` and cleans up after itself.
 *   node bench/lake.ts [compaction ...]
 *   env: BENCH_COMPACT_ROWS (200000), BENCH_COMPACT_BATCH (5000), BENCH_JOB_OBJECTS (100), BENCH_JOB_LINES (2000),
 *        BENCH_API_REQUESTS (300)
 */
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import type { Envelope } from '@sluice/shared/envelope';
import { migrate } from '@sluice/control-plane/db/migrate';
import { createPool } from '@sluice/control-plane/db/pool';
import { createS3Client, ObjectStoreSink } from '@sluice/control-plane/sinks/object-store/object-store-sink';
import { PartitionStats } from '@sluice/control-plane/lake/partitions/partition-stats';
import { compactPartition, liveFiles } from '@sluice/control-plane/lake/compaction/compaction';
import { lakePython } from '@sluice/control-plane/lake/compaction/lake-python';
import { callLatency } from './lib/latency.ts';
import { machineLoad } from './lib/process-meter.ts';
import { KafkaProducer, ensureTopics, deleteTopics } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { freePort } from '@sluice/shared/node/testing/processes';
import { loadConfig } from '@sluice/control-plane/config';
import { startConsumer } from '@sluice/control-plane/consumer/consumer-service';
import { DatasetStore } from '@sluice/control-plane/datasets/dataset-store';
import { ApiKeyStore } from '@sluice/control-plane/auth/api-keys';
import { jobKindRegistry } from '@sluice/control-plane/lake/jobs/kinds';
import { LakeWorker } from '@sluice/control-plane/lake/jobs/worker';

const stack = loadStackEnv();
const id = randomBytes(3).toString('hex');
const round = (n: number): number => Math.round(n * 100) / 100;

interface PartContext { id: string }
type Part = (ctx: PartContext) => Promise<unknown>;

async function compaction(ctx: PartContext): Promise<unknown> {
  const rows = Number(process.env.BENCH_COMPACT_ROWS ?? 200_000);
  const batchSize = Number(process.env.BENCH_COMPACT_BATCH ?? 5_000);
  const stateSchema = `bench_lake_${ctx.id}`;
  const bucket = `bench-lake-${ctx.id}`;
  await migrate(stack.pgUrl, stateSchema);
  const pool = createPool(stack.pgUrl, stateSchema);
  const s3 = { endpoint: stack.s3.endpoint, accessKey: stack.s3.accessKey, secretKey: stack.s3.secretKey, bucket };
  // Warnings only: stdout carries the figures as one JSON object.
  const sink = new ObjectStoreSink({ ...s3, stats: new PartitionStats({ pool }), logger: createLogger('bench-lake-compaction', { level: 'warn' }) });
  const name = `lakebench${ctx.id}`;
  const schema = {
    type: 'object',
    properties: { device: { type: 'string' }, seq: { type: 'integer' }, temperature: { type: 'number' }, ok: { type: 'boolean' }, tags: { type: 'array' }, note: { type: ['string', 'null'] } },
  };
  const dataset = { spec: { name, sinks: { objectStore: { enabled: true, partitionBy: 'hour' as const } } }, version: 1, schema };
  const work = mkdtempSync(path.join(tmpdir(), 'bench-lake-'));
  try {
    let ndjsonBytes = 0;
    for (let start = 0; start < rows; start += batchSize) {
      const records = [];
      for (let i = start; i < Math.min(rows, start + batchSize); i++) {
        const envelope: Envelope = {
          id: `bench:${i}`, dataset: name, agentId: `agent-${i % 20}`, source: { id: 'bench', kind: 'file' },
          eventTime: new Date(Date.parse('2026-01-01T10:00:00Z') + (i % 3_600_000)).toISOString(), ingestTime: '2026-01-01T11:00:00.000Z', schemaVersion: 1,
          payload: { device: `dev-${i % 500}`, seq: i, temperature: 20 + (i % 150) / 10, ok: i % 7 !== 0, tags: [`t${i % 4}`], note: i % 10 === 0 ? null : `reading ${i}` },
        };
        ndjsonBytes += Buffer.byteLength(JSON.stringify(envelope)) + 1;
        records.push({ envelope, topic: `bench.${name}`, partition: 0, offset: BigInt(i) });
      }
      const result = await sink.write({ dataset, topic: `bench.${name}`, partition: 0, firstOffset: records[0]!.offset, lastOffset: records.at(-1)!.offset, records });
      if (result.kind !== 'ok') throw new Error(`sink write: ${JSON.stringify(result)}`);
    }
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result = await compactPartition({ client: createS3Client(s3), bucket, dataset, partition: 'dt=2026-01-01/hour=10', stats: new PartitionStats({ pool }) });
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    // Read back by pyarrow: the figures only count when the output is right.
    const live = await liveFiles(createS3Client(s3), bucket, dataset, 'dt=2026-01-01/hour=10');
    const client = createS3Client(s3);
    const paths: string[] = [];
    for (const [i, key] of live.parquet.entries()) {
      const parts: Buffer[] = [];
      for await (const part of await client.getObject(bucket, key)) parts.push(part as Buffer);
      paths.push(path.join(work, `${i}.parquet`));
      writeFileSync(paths.at(-1)!, Buffer.concat(parts));
    }
    const check = JSON.parse(execFileSync(await lakePython(), [fileURLToPath(new URL('../control-plane/test/support/parquet-check.py', import.meta.url)), ...paths], { env: { ...process.env, SUM_COLUMN: 'seq' }, encoding: 'utf8' })) as { count: number; distinct: number; sum: number; rowGroups: number };
    return {
      records: result.records,
      seconds: round(seconds),
      recordsPerSecond: Math.round(result.records / seconds),
      gzipNdjsonMBPerSecond: round(result.inputBytes / 1e6 / seconds),
      ndjsonMBPerSecond: round(ndjsonBytes / 1e6 / seconds),
      inputFiles: result.inputFiles,
      gzipNdjsonBytes: result.inputBytes,
      ndjsonBytes,
      parquetBytes: result.outputBytes,
      parquetToGzipNdjson: round(result.outputBytes / result.inputBytes),
      outputFiles: result.outputFiles,
      rowGroups: check.rowGroups,
      readBackOk: check.count === rows && check.distinct === rows && check.sum === (rows * (rows - 1)) / 2,
      cpuSeconds: round((used.user + used.system) / 1e6),
      loadavg: machineLoad(),
    };
  } finally {
    await sink.removeBucket().catch(() => undefined);
    await sink.close();
    await pool.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`);
    await pool.end();
    rmSync(work, { recursive: true, force: true });
  }
}

async function jobs(ctx: PartContext): Promise<unknown> {
  const objects = Number(process.env.BENCH_JOB_OBJECTS ?? 100);
  const lines = Number(process.env.BENCH_JOB_LINES ?? 2000);
  const requests = Number(process.env.BENCH_API_REQUESTS ?? 300);
  const stateSchema = `bench_lakejobs_${ctx.id}`;
  const dataSchema = `bench_lakejobs_data_${ctx.id}`;
  const bucket = `bench-lakejobs-${ctx.id}`;
  const source = `bench-lakejobs-src-${ctx.id}`;
  const prefix = `sluicebenchlake${ctx.id}.`;
  const env = {
    ...stack.raw, ...process.env,
    SLUICE_STATE_SCHEMA: stateSchema, SLUICE_DATA_SCHEMA: dataSchema, SLUICE_TOPIC_PREFIX: prefix, SLUICE_DLQ_TOPIC: `${prefix}dlq`,
    SLUICE_CONSUMER_GROUP: `bench-lake-${ctx.id}`, SLUICE_S3_BUCKET: bucket, SLUICE_TOPIC_REFRESH_MS: '500', SLUICE_CONSUMER_METRICS_PORT: '0',
    SLUICE_JOB_POLL_MS: '100', SLUICE_LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env);
  await migrate(stack.pgUrl, stateSchema);
  const pool = createPool(stack.pgUrl, stateSchema);
  const logger = createLogger('bench-lake-jobs', { level: 'warn' });
  const s3 = createS3Client({ endpoint: stack.s3.endpoint, accessKey: stack.s3.accessKey, secretKey: stack.s3.secretKey });
  const name = `lakejobs${ctx.id}`;
  const schema = { type: 'object', required: ['device', 'seq'], properties: { device: { type: 'string' }, seq: { type: 'integer' }, temperature: { type: 'number' }, ok: { type: 'boolean' } } };
  await new DatasetStore(pool).create({ name, sinks: { postgres: { enabled: true }, objectStore: { enabled: true, partitionBy: 'hour' } } }, schema);
  await ensureTopics(config.kafkaBrokers, [{ name: `${prefix}${name}`, partitions: 3 }, { name: `${prefix}dlq`, partitions: 1 }]);
  const producer = new KafkaProducer({ brokers: config.kafkaBrokers, clientId: 'bench-lake-jobs' });
  await s3.makeBucket(source);
  let sourceBytes = 0;
  for (let o = 0; o < objects; o++) {
    const body = Array.from({ length: lines }, (_, i) => JSON.stringify({ device: `dev-${i % 500}`, seq: o * lines + i, temperature: 20 + (i % 150) / 10, ok: i % 7 !== 0 })).join('\n');
    sourceBytes += Buffer.byteLength(body);
    await s3.putObject(source, `in/obj-${String(o).padStart(5, '0')}.ndjson.gz`, gzipSync(body));
  }
  const consumer = await startConsumer(config, logger);
  const worker = new LakeWorker({ pool, config, logger, registry: jobKindRegistry(), datasets: new DatasetStore(pool), send: (m) => producer.send(m) });
  await worker.start();
  const port = await freePort();
  const adminKey = `bench-lake-admin-${ctx.id}-0123456789abcdef`;
  const serve = spawn(process.execPath, [fileURLToPath(new URL('../control-plane/bin/sluice-control-plane.js', import.meta.url)), 'serve'], { env: { ...env, SLUICE_HTTP_PORT: String(port), SLUICE_ADMIN_KEY: adminKey }, stdio: ['ignore', 'ignore', 'inherit'] });
  process.once('exit', () => serve.kill('SIGTERM'));
  const base = `http://127.0.0.1:${port}`;
  try {
    const key = (await new ApiKeyStore(pool).create('operator', 'bench')).key;
    const call = async (method: string, url: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const res = await fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, json: await res.json() };
    };
    for (let tries = 0; (await call('GET', '/healthz').catch(() => ({ status: 0 }))).status !== 200; tries++) {
      if (tries > 300 || serve.exitCode !== null) throw new Error(`serve did not come up (exit code ${String(serve.exitCode)})`);
      await sleep(300);
    }
    const cpu = process.cpuUsage();
    const started = performance.now();
    const created = await call('POST', '/api/v1/ingestion/jobs', { dataset: name, source: { kind: 's3', bucket: source, prefix: 'in/' }, start: true });
    if (created.status !== 201) throw new Error(`create job: ${JSON.stringify(created)}`);
    const jobId = (created.json as { id: string }).id;
    let job: { state: string; progress: { records: number } };
    do {
      await sleep(100);
      job = (await call('GET', `/api/v1/ingestion/jobs/${jobId}`)).json as typeof job;
    } while (!['succeeded', 'failed', 'cancelled'].includes(job.state));
    const jobSeconds = (performance.now() - started) / 1000;
    const total = objects * lines;
    let loaded = 0;
    while (loaded < total) {
      await sleep(100);
      loaded = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${dataSchema}.${name}`).catch(() => ({ rows: [{ n: '0' }] }))).rows[0]!.n);
      if (performance.now() - started > 600_000) throw new Error(`only ${loaded} of ${total} rows after 10 minutes`);
    }
    const endToEndSeconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const latency = (url: string): Promise<{ p50Ms: number; p99Ms: number }> =>
      callLatency(requests, async () => {
        const res = await call('GET', url);
        if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
      });
    return {
      objects, records: total, sourceMB: round(sourceBytes / 1e6), state: job.state, publishedRecords: job.progress.records,
      workerRecordsPerSecond: Math.round(total / jobSeconds),
      endToEndRecordsPerSecond: Math.round(total / endToEndSeconds),
      jobSeconds: round(jobSeconds), endToEndSeconds: round(endToEndSeconds),
      benchProcessCpuSeconds: round((used.user + used.system) / 1e6),
      api: {
        requests,
        listJobs: await latency(`/api/v1/ingestion/jobs?dataset=${name}`),
        getJob: await latency(`/api/v1/ingestion/jobs/${jobId}`),
        listPartitions: await latency(`/api/v1/tables/${name}/partitions?limit=100`),
      },
      loadavg: machineLoad(),
    };
  } finally {
    serve.kill('SIGTERM');
    await worker.stop();
    await consumer.stop();
    await producer.close();
    for (const b of [bucket, source]) {
      if (!(await s3.bucketExists(b))) continue;
      const names: string[] = [];
      for await (const o of s3.listObjectsV2(b, '', true) as AsyncIterable<{ name?: string }>) if (o.name) names.push(o.name);
      if (names.length > 0) await s3.removeObjects(b, names);
      await s3.removeBucket(b);
    }
    await deleteTopics(config.kafkaBrokers, [`${prefix}${name}`, `${prefix}dlq`]).catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE; DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`);
    await pool.end();
  }
}

export const PARTS: Record<string, Part> = { compaction, jobs };

async function main(): Promise<void> {
  const which = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(PARTS);
  const out: Record<string, unknown> = { bench: 'lake', startedAt: new Date().toISOString(), cpus: os.cpus().length };
  for (const part of which) {
    const run = PARTS[part];
    if (!run) throw new Error(`unknown part ${part}; parts: ${Object.keys(PARTS).join(', ')}`);
    out[part] = await run({ id: `${id}${part.slice(0, 3)}` });
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
