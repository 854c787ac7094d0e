/**
 * Control-plane throughput and latency through Kafka and the real consumer (pipeline + sinks), printing
 * one JSON object:
 *   - Kafka → PostgreSQL rows/s (envelopes pre-produced, idempotent COPY + INSERT … ON CONFLICT path), against
 *     `psql \copy` of the same rows into a table of the same shape in the same run
 *   - a raw input topic (plain JSON written by kcat, a producer nobody here wrote) → PostgreSQL rows/s, against
 *     envelopes of the same payloads in the same run (raw-topic; with `postgres` for the ratio)
 *   - Kafka → OpenSearch docs/s, Kafka → MinIO MB/s (envelope bytes consumed per second)
 *   - end-to-end latency p50/p99 at fixed produce rates: envelope produced → row committed in PostgreSQL
 *   - the same from a line appended to a file tailed by a real `sluice-agent` process (agent-latency)
 *   - a JSON array of 200k objects dropped into a real agent's drop folder → all three stores (drop)
 *   - the real consumer process's RSS and rate through a backlog of 2M records into all three stores (consumer-memory)
 *   - Kafka → PostgreSQL rows/s with 1, 2 and 4 real consumer processes in one group, against the three-broker cluster
 *     (consumer-scaling; not in the default set: `bash scripts/stack.sh up kafka3-1 kafka3-2 kafka3-3` first)
 * Each run uses its own state schema, data schema, topics, index prefix and bucket, and removes them.
 * Every figure carries the machine's load average (1, 5, 15 min) when it was taken.
 *   node bench/control-plane.ts [postgres raw-topic search object-store drop consumer-memory latency agent-latency]
 *   env: BENCH_PG_ROWS (1000000), BENCH_RAW_ROWS (500000), BENCH_SEARCH_DOCS (50000), BENCH_S3_ROWS (100000), BENCH_DROP_ROWS (200000), BENCH_BACKLOG_ROWS (2000000),
 *        BENCH_RATES (1000,5000), BENCH_LATENCY_SECONDS (15),
 *        BENCH_SCALING_ROWS (500000), BENCH_SCALING_PROCESSES (1,2,4),
 *        BENCH_PAD_BYTES (0: a string field of that many bytes in every payload, to see memory with big records),
 *        BENCH_CPU_PROF (a directory: the in-process consumer of each throughput part writes a .cpuprofile there)
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { DatasetSpec } from '@sluice/shared/dataset';
import { CONTENT_TYPES, KAFKA_HEADERS, type Envelope } from '@sluice/shared/envelope';
import { KafkaProducer, TopicEndOffsets, deleteTopics, ensureTopics, type OutgoingMessage } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { stopProcess } from '@sluice/shared/node/testing/processes';
import { machineLoad, processCost } from './lib/process-meter.ts';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { loadConfig, type ControlPlaneConfig } from '@sluice/control-plane/config';
import { startConsumer } from '@sluice/control-plane/consumer/consumer-service';
import { DatasetStore } from '@sluice/control-plane/datasets/dataset-store';
import { migrate } from '@sluice/control-plane/db/migrate';
import { createPool } from '@sluice/control-plane/db/pool';

const stack = loadStackEnv();
const id = randomBytes(3).toString('hex');
const logger = createLogger('bench-control-plane', { level: process.env.SLUICE_LOG_LEVEL ?? 'warn' });
const stateSchema = `bench_state_${id}`;
const dataSchema = `bench_data_${id}`;
const bucket = `bench-${id}`;
const prefix = `sluicebench${id}.`;
/** Below this, a 10%→100% window is too short to mean anything (probes are 100 ms apart). */
const MIN_STEADY_SECONDS = 2;
const which = new Set(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['postgres', 'raw-topic', 'search', 'object-store', 'drop', 'consumer-memory', 'latency', 'agent-latency']);

const schema = {
  type: 'object',
  required: ['device', 'seq'],
  properties: { device: { type: 'string' }, seq: { type: 'integer' }, temperature: { type: 'number' }, ok: { type: 'boolean' }, sent_at: { type: 'number' } },
};

function config(): ControlPlaneConfig {
  return loadConfig({
    // The control plane reads only its environment; the bench runs it against the local stack.
    ...stack.raw,
    ...process.env,
    SLUICE_STATE_SCHEMA: stateSchema,
    SLUICE_DATA_SCHEMA: dataSchema,
    SLUICE_TOPIC_PREFIX: prefix,
    SLUICE_DLQ_TOPIC: `${prefix}dlq`,
    SLUICE_CONSUMER_GROUP: `bench-${id}`,
    SLUICE_S3_BUCKET: bucket,
    SLUICE_TOPIC_REFRESH_MS: '500',
    SLUICE_CONSUMER_METRICS_PORT: '0',
    SLUICE_BATCH_MAX_RECORDS: process.env.BENCH_BATCH ?? '5000',
    SLUICE_BATCH_MAX_WAIT_MS: process.env.BENCH_BATCH_WAIT_MS ?? '50',
  });
}

const pad = Number(process.env.BENCH_PAD_BYTES ?? 0) > 0 ? { pad: 'x'.repeat(Number(process.env.BENCH_PAD_BYTES)) } : {};

function message(topic: string, dataset: string, seq: number, sentAt?: number): OutgoingMessage {
  const now = new Date().toISOString();
  const envelope: Envelope = {
    id: `bench:src:f:${id}:${seq}`,
    dataset,
    agentId: 'bench',
    source: { id: 'src', kind: 'file' },
    eventTime: now,
    ingestTime: now,
    payload: { device: `d${seq % 100}`, seq, temperature: seq / 10, ok: seq % 2 === 0, ...pad, ...(sentAt === undefined ? {} : { sent_at: sentAt }) },
  };
  return {
    topic,
    key: envelope.id,
    value: Buffer.from(JSON.stringify(envelope)),
    headers: { [KAFKA_HEADERS.dataset]: dataset, [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope },
  };
}

/** The payloads of `message`, as plain JSON lines written to a raw topic by kcat (a producer nobody here wrote). */
function preproduceRaw(topic: string, rows: number): number {
  const file = path.join(tmpdir(), `sluice-bench-raw-${id}.ndjson`);
  const lines: string[] = [];
  for (let seq = 0; seq < rows; seq++) lines.push(JSON.stringify({ device: `d${seq % 100}`, seq, temperature: seq / 10, ok: seq % 2 === 0 }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  try {
    execFileSync('kcat', ['-P', '-b', stack.kafkaBrokers.join(','), '-t', topic, '-z', 'lz4', '-X', 'linger.ms=20', '-X', 'batch.num.messages=10000', '-l', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    return statSync(file).size;
  } finally {
    rmSync(file, { force: true });
  }
}

async function preproduce(producer: KafkaProducer, topic: string, dataset: string, rows: number): Promise<number> {
  let bytes = 0;
  for (let start = 0; start < rows; start += 2_000) {
    const batch: OutgoingMessage[] = [];
    for (let i = start; i < Math.min(rows, start + 2_000); i++) batch.push(message(topic, dataset, i));
    for (const m of batch) bytes += m.value.length;
    await producer.send(batch);
  }
  return bytes;
}

/** Polls until `target`; returns when the probe first reached 10% of it and when it reached all of it. */
async function waitUntil(probe: () => Promise<number>, target: number, timeoutMs: number): Promise<{ at10: number; at100: number }> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  let at10 = 0;
  while (Date.now() < deadline) {
    last = await probe().catch(() => last);
    if (at10 === 0 && last >= target / 10) at10 = performance.now();
    if (last >= target) return { at10, at100: performance.now() };
    await sleep(100);
  }
  throw new Error(`timed out at ${last}/${target}`);
}

async function searchCount(index: string): Promise<number> {
  await fetch(`${stack.searchUrl}/${index}-*/_refresh`, { method: 'POST' });
  const res = await fetch(`${stack.searchUrl}/${index}-*/_count`);
  return res.ok ? ((await res.json()) as { count: number }).count : 0;
}

/** Consumes a pre-produced topic with only `sink` enabled and times it until `done` reaches `rows`. */
async function throughput(
  pool: pg.Pool,
  producer: KafkaProducer,
  name: string,
  sinks: DatasetSpec['sinks'],
  rows: number,
  done: (dataset: string) => Promise<number>,
  options: { raw?: boolean } = {},
): Promise<Record<string, unknown>> {
  const dataset = `${name}_${id}`;
  const input = options.raw === true ? `bench.raw.${id}` : undefined;
  await new DatasetStore(pool).create({ name: dataset, sinks, ...(input === undefined ? {} : { input: { topic: input, format: 'json' as const } }) }, schema);
  const topic = input ?? `${prefix}${dataset}`;
  await ensureTopics(stack.kafkaBrokers, [{ name: topic, partitions: 3 }]);
  const bytes = input === undefined ? await preproduce(producer, topic, dataset, rows) : preproduceRaw(topic, rows);
  const profiler = await cpuProfile(name);
  const started = performance.now();
  const consumer = await startConsumer(config(), logger);
  let marks: { at10: number; at100: number };
  try {
    marks = await waitUntil(() => done(dataset), rows, 600_000);
  } finally {
    await profiler?.stop();
    await consumer.stop();
  }
  // Steady state: from 10% to 100% of the rows, so group join and first fetch are not counted. A store that
  // shows its rows in big steps (the object store's segments) can pass 10% and 100% within a few probes; that
  // window measures nothing, so then the whole run from the consumer's start is the figure.
  const wall = (marks.at100 - started) / 1000;
  const steady = (marks.at100 - marks.at10) / 1000;
  const window = steady >= MIN_STEADY_SECONDS ? { basis: 'steady 10%→100%', seconds: steady, share: 0.9 } : { basis: 'whole run', seconds: wall, share: 1 };
  return {
    rows,
    wallSeconds: round(wall),
    steadySeconds: round(steady),
    basis: window.basis,
    perSecond: Math.round((rows * window.share) / window.seconds),
    mbPerSecond: round((bytes * window.share) / 1024 / 1024 / window.seconds),
    ...withLoad(),
  };
}

/** With BENCH_CPU_PROF set, profiles this process (the in-process consumer) until `stop`, into `<dir>/<name>-<id>.cpuprofile`. */
async function cpuProfile(name: string): Promise<{ stop: () => Promise<void> } | undefined> {
  const dir = process.env.BENCH_CPU_PROF;
  if (dir === undefined || dir === '') return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${name}-${id}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Rows in `table`, 0 while it does not exist yet (the consumer creates it). */
async function rowCount(pool: pg.Pool, table: string): Promise<number> {
  const result = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`).catch(() => ({ rows: [{ n: '0' }] }));
  return Number(result.rows[0]!.n);
}

/** The machine's load when a figure was taken: these are 2-core machines shared with other work. */
function withLoad(): { loadavg: number[] } {
  return { loadavg: machineLoad() };
}

/**
 * Stamps each row of `table` with the time PostgreSQL inserted it, once the table exists: `send(-1)` writes a
 * warm-up record (topic creation, group join and the sink's CREATE TABLE are not part of the figure). The
 * sink names its target columns, so the column default applies to every later row.
 */
async function stampInsertTimes(pool: pg.Pool, table: string, sendWarmUp: () => Promise<void>): Promise<void> {
  await sendWarmUp();
  await waitUntil(() => rowCount(pool, table), 1, 120_000);
  await pool.query(`ALTER TABLE ${table} ADD COLUMN bench_visible_at double precision DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)`);
}

/** Calls `emit(from, to)` every 20 ms so that `rate` records per second leave in total; returns the achieved rate. */
async function atRate(rate: number, seconds: number, emit: (from: number, to: number) => void): Promise<number> {
  const total = rate * seconds;
  const tickMs = 20;
  const perTick = rate / (1000 / tickMs);
  const start = performance.now();
  let sent = 0;
  for (let tick = 1; sent < total; tick++) {
    const due = Math.min(total, Math.round(perTick * tick));
    emit(sent, due);
    sent = due;
    const wait = start + tick * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return total / ((performance.now() - start) / 1000);
}

/** Waits for every measured row (seq >= 0), then reads sent → visible percentiles from the table. */
async function visibleLatency(pool: pg.Pool, table: string, rate: number, seconds: number, achieved: number): Promise<Record<string, unknown>> {
  const total = rate * seconds;
  await waitUntil(async () => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE seq >= 0`)).rows[0]!.n), total, 300_000);
  const res = await pool.query<{ p50: number; p99: number; max: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY bench_visible_at - sent_at) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY bench_visible_at - sent_at) AS p99,
            max(bench_visible_at - sent_at) AS max
       FROM ${table} WHERE seq >= 0`,
  );
  const row = res.rows[0]!;
  return { targetRate: rate, achievedRate: Math.round(achieved), records: total, p50Ms: Math.round(row.p50), p99Ms: Math.round(row.p99), maxMs: Math.round(row.max), ...withLoad() };
}

/** Envelope produced to Kafka → row visible in PostgreSQL. */
async function latency(pool: pg.Pool, producer: KafkaProducer, rate: number, seconds: number): Promise<Record<string, unknown>> {
  const dataset = `latency_${rate}_${id}`;
  await new DatasetStore(pool).create({ name: dataset, sinks: { postgres: { enabled: true } } }, schema);
  const topic = `${prefix}${dataset}`;
  await ensureTopics(stack.kafkaBrokers, [{ name: topic, partitions: 3 }]);
  const consumer = await startConsumer(config(), logger);
  const table = `${dataSchema}.${dataset}`;
  try {
    await stampInsertTimes(pool, table, () => producer.send([message(topic, dataset, -1, Date.now())]));
    const achieved = await atRate(rate, seconds, (from, to) => {
      const batch: OutgoingMessage[] = [];
      for (let seq = from; seq < to; seq++) batch.push(message(topic, dataset, seq, Date.now()));
      void producer.send(batch).catch((error: unknown) => logger.error({ err: error }, 'produce failed'));
    });
    return await visibleLatency(pool, table, rate, seconds, achieved);
  } finally {
    await consumer.stop();
  }
}

/**
 * Line appended to a file → row visible in PostgreSQL: the real `sluice-agent` process tails the file
 * (JSON lines), ships through its outbox to Kafka, and the real consumer loads PostgreSQL.
 */
async function agentLatency(pool: pg.Pool, rate: number, seconds: number): Promise<Record<string, unknown>> {
  const dataset = `agentlat_${rate}_${id}`;
  await new DatasetStore(pool).create({ name: dataset, sinks: { postgres: { enabled: true } } }, schema);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-agent-'));
  mkdirSync(path.join(dir, 'logs'));
  const file = path.join(dir, 'logs', 'app.log');
  writeFileSync(file, '');
  writeFileSync(
    path.join(dir, 'agent.yaml'),
    `agentId: bench\ndataDir: ./data\nkafka: { brokers: ${JSON.stringify(stack.kafkaBrokers)}, topicPrefix: ${JSON.stringify(prefix)} }\n` +
      `http: { listen: "127.0.0.1:0" }\nallowedRoots: [./logs]\n` +
      `sources:\n  - { type: file, id: tail, dataset: ${dataset}, include: ["./logs/*.log"], format: json }\n`,
  );
  const agent = spawn(process.execPath, [fileURLToPath(new URL('../agent/bin/sluice-agent.js', import.meta.url)), 'run', '--config', path.join(dir, 'agent.yaml')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
  });
  const consumer = await startConsumer(config(), logger);
  const line = (seq: number): string => `${JSON.stringify({ device: `d${seq % 100}`, seq, temperature: seq / 10, ok: seq % 2 === 0, sent_at: Date.now() })}\n`;
  try {
    await stampInsertTimes(pool, `${dataSchema}.${dataset}`, async () => appendFileSync(file, line(-1)));
    const achieved = await atRate(rate, seconds, (from, to) => {
      let chunk = '';
      for (let seq = from; seq < to; seq++) chunk += line(seq);
      appendFileSync(file, chunk);
    });
    return await visibleLatency(pool, `${dataSchema}.${dataset}`, rate, seconds, achieved);
  } finally {
    await stopProcess(agent);
    await consumer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The baseline for Kafka → PostgreSQL: `psql \copy` of the very rows the consumer loaded (exported first)
 * into an empty table of the same shape, indexes included: what PostgreSQL takes with no Kafka, no decoding
 * and no deduplication at all.
 */
function psqlCopyBaseline(table: string, rows: number): { perSecond: number; seconds: number } {
  const file = path.join(tmpdir(), `sluice-bench-copy-${id}.tsv`);
  const psql = (command: string): void => void execFileSync('psql', [stack.pgUrl, '-q', '-v', 'ON_ERROR_STOP=1', '-c', command], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    psql(`\\copy ${table} TO '${file}'`);
    psql(`CREATE TABLE ${table}_copy (LIKE ${table} INCLUDING ALL)`);
    const started = performance.now();
    psql(`\\copy ${table}_copy FROM '${file}'`);
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: Math.round(rows / seconds), seconds: round(seconds) };
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * The consumer as `npm start` runs it (`sluice-control-plane consume`, its own process) working through a
 * backlog of `rows` records for a dataset with all three stores: its RSS sampled every 250 ms (peak and mean)
 * and its rate. The backlog is produced before the process starts, so it begins with all of it waiting.
 */
async function consumerMemory(pool: pg.Pool, producer: KafkaProducer, rows: number): Promise<Record<string, unknown>> {
  const dataset = `mem_${id}`;
  await new DatasetStore(pool).create({ name: dataset, sinks: { postgres: { enabled: true }, search: { enabled: true }, objectStore: { enabled: true, partitionBy: 'hour' } } }, schema);
  const topic = `${prefix}${dataset}`;
  await ensureTopics(stack.kafkaBrokers, [{ name: topic, partitions: 3 }]);
  const bytes = await preproduce(producer, topic, dataset, rows);
  // BENCH_CONSUMER_NODE_OPTIONS, e.g. --max-old-space-size=256, to see what a bounded heap does to the figures
  const nodeOptions = process.env.BENCH_CONSUMER_NODE_OPTIONS;
  const consumer = consumeProcess(stack.kafkaBrokers, `bench-mem-${id}`, nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions });
  const samples: number[] = [];
  const sampler = setInterval(() => {
    // Undefined once it exited: its last sample stands.
    const cost = processCost(consumer.pid ?? -1);
    if (cost !== undefined) samples.push(cost.rssBytes / 1024 / 1024);
  }, 250);
  const started = performance.now();
  try {
    const count = (): Promise<number> => rowCount(pool, `${dataSchema}.${dataset}`);
    const done = await Promise.race([waitUntil(count, rows, 1_800_000), anyExits([consumer])]);
    await waitUntil(() => searchCount(`sluice-${dataset}`), rows, 600_000);
    const seconds = (done.at100 - started) / 1000;
    return {
      rows,
      backlogMb: round(bytes / 1024 / 1024),
      seconds: round(seconds),
      perSecondIntoPostgres: Math.round(rows / seconds),
      peakRssMb: Math.round(Math.max(...samples)),
      meanRssMb: Math.round(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)),
      ...withLoad(),
    };
  } finally {
    clearInterval(sampler);
    await stopProcess(consumer);
    await fetch(`${stack.searchUrl}/sluice-${dataset}-*`, { method: 'DELETE' }).catch(() => undefined);
  }
}

/** A `sluice-control-plane consume` process of this bench's state, on `brokers`, in consumer group `group`. */
function consumeProcess(brokers: readonly string[], group: string, extraEnv: Record<string, string> = {}): ReturnType<typeof spawn> {
  const settings = config();
  return spawn(process.execPath, [fileURLToPath(new URL('../control-plane/bin/sluice-control-plane.js', import.meta.url)), 'consume'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      ...stack.raw,
      SLUICE_KAFKA_BROKERS: brokers.join(','),
      SLUICE_STATE_SCHEMA: settings.stateSchema,
      SLUICE_DATA_SCHEMA: settings.dataSchema,
      SLUICE_TOPIC_PREFIX: settings.topicPrefix,
      SLUICE_DLQ_TOPIC: settings.dlqTopic,
      SLUICE_CONSUMER_GROUP: group,
      SLUICE_S3_BUCKET: bucket,
      SLUICE_CONSUMER_METRICS_PORT: '0',
      SLUICE_LOG_LEVEL: 'warn',
      ...extraEnv,
    },
  });
}

/**
 * Rejects when one of `children` exits: a consumer that dies (out of memory, say) fails the part instead of
 * leaving it waiting. Once the work is done, the stop that ends them is not a failure: nobody awaits it then.
 */
function anyExits(children: ReadonlyArray<ReturnType<typeof spawn>>): Promise<never> {
  const died = new Promise<never>((_, reject) => {
    for (const child of children) child.once('exit', (code, signal) => reject(new Error(`a consumer (pid ${child.pid}) exited (${String(code ?? signal)}) before loading the backlog`)));
  });
  died.catch(() => undefined);
  return died;
}

/**
 * Kafka → PostgreSQL with 1, 2, 4… real consumer processes in one group, against the three-broker cluster
 * (SLUICE_KAFKA_BROKERS_3): per process count its own dataset and topic (12 partitions, 3 replicas, so every
 * process gets partitions), the same `rows` pre-produced, the same 10%→100% window as the other parts.
 */
async function consumerScaling(pool: pg.Pool, rows: number, counts: readonly number[]): Promise<Record<string, unknown>> {
  const brokers = stack.kafkaBrokers3;
  // a fresh cluster's coordinator may still be loading
  const producer = new KafkaProducer({ brokers, clientId: 'bench-control-plane-scaling', retryUntilAcknowledged: true });
  const topics: string[] = [];
  const out: Array<Record<string, unknown>> = [];
  try {
    for (const processes of counts) {
      const dataset = `scale${processes}_${id}`;
      await new DatasetStore(pool).create({ name: dataset, sinks: { postgres: { enabled: true } } }, schema);
      const topic = `${prefix}${dataset}`;
      topics.push(topic);
      await ensureTopics(brokers, [{ name: topic, partitions: 12, replicas: 3 }]);
      await preproduce(producer, topic, dataset, rows);
      const loadBefore = machineLoad();
      const started = performance.now();
      const children = Array.from({ length: processes }, () => consumeProcess(brokers, `bench-scale${processes}-${id}`));
      try {
        const count = (): Promise<number> => rowCount(pool, `${dataSchema}.${dataset}`);
        const marks = await Promise.race([waitUntil(count, rows, 600_000), anyExits(children)]);
        const steady = (marks.at100 - marks.at10) / 1000;
        // VmHWM of each process: the read-ahead is bounded per process, whatever the number of brokers
        const peakRssMb = Math.round(Math.max(...children.map((c) => processCost(c.pid ?? -1)?.peakRssBytes ?? NaN)) / 1024 / 1024);
        out.push({ processes, rows, wallSeconds: round((marks.at100 - started) / 1000), steadySeconds: round(steady), perSecond: Math.round((rows * 0.9) / steady), peakRssMb, load: { before: loadBefore, after: machineLoad() } });
      } finally {
        await Promise.all(children.map(stopProcess));
      }
    }
  } finally {
    await producer.close();
    await deleteTopics(brokers, [...topics, `${prefix}dlq`]).catch(() => undefined);
  }
  const one = Number(out[0]?.perSecond ?? NaN);
  return { brokers: brokers.length, runs: out.map((r) => ({ ...r, ratioToOneProcess: round(Number(r.perSecond) / one) })) };
}

/**
 * One JSON array of `rows` objects dropped into a folder the real `sluice-agent` watches (rename-in), through
 * Kafka and the real consumer into PostgreSQL, the search index and the object store: when the first row is
 * in PostgreSQL, when each store holds all of them, records/s to all three, and the agent's peak RSS.
 */
async function dropToStores(pool: pg.Pool, rows: number): Promise<Record<string, unknown>> {
  const dataset = `drop_${id}`;
  await new DatasetStore(pool).create({ name: dataset, sinks: { postgres: { enabled: true }, search: { enabled: true }, objectStore: { enabled: true, partitionBy: 'hour' } } }, schema);
  // An existing dataset's topic: the first row then measures the drop path, not a new topic's discovery.
  await ensureTopics(stack.kafkaBrokers, [{ name: `${prefix}${dataset}`, partitions: 3 }]);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-drop-'));
  mkdirSync(path.join(dir, 'drop'));
  const items: string[] = [];
  for (let seq = 0; seq < rows; seq++) items.push(JSON.stringify({ device: `d${seq % 100}`, seq, temperature: seq / 10, ok: seq % 2 === 0 }));
  const staged = path.join(dir, 'drop', 'batch.json.tmp');
  writeFileSync(staged, `[\n${items.join(',\n')}\n]\n`);
  const bytes = statSync(staged).size;
  writeFileSync(
    path.join(dir, 'agent.yaml'),
    `agentId: bench\ndataDir: ./data\nkafka: { brokers: ${JSON.stringify(stack.kafkaBrokers)}, topicPrefix: ${JSON.stringify(prefix)} }\n` +
      `http: { listen: "127.0.0.1:0" }\nallowedRoots: [./drop]\n` +
      `sources:\n  - { type: drop, id: drop, dataset: ${dataset}, path: ./drop, format: json, completion: { mode: rename-in } }\n`,
  );
  const agent = spawn(process.execPath, [fileURLToPath(new URL('../agent/bin/sluice-agent.js', import.meta.url)), 'run', '--config', path.join(dir, 'agent.yaml')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
  });
  const consumer = await startConsumer(config(), logger);
  const table = `${dataSchema}.${dataset}`;
  const pgCount = (): Promise<number> => rowCount(pool, table);
  const offsets = new TopicEndOffsets(stack.kafkaBrokers);
  const objectCount = async (): Promise<number> => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM object_store_ids WHERE dataset = $1', [dataset])).rows[0]!.n);
  try {
    await sleep(3_000); // the agent is up and watching, the consumer subscribed
    const dropped = performance.now();
    const droppedAt = Date.now();
    renameSync(staged, path.join(dir, 'drop', 'batch.json'));
    const firstRow = await waitUntil(pgCount, 1, 600_000);
    const [kafka, postgres, search, objectStore] = await Promise.all([
      waitUntil(async () => Number(await offsets.total(`${prefix}${dataset}`, 3)), rows, 600_000),
      waitUntil(pgCount, rows, 600_000), waitUntil(() => searchCount(`sluice-${dataset}`), rows, 600_000), waitUntil(objectCount, rows, 600_000)]);
    const seconds = (at: { at100: number }): number => round((at.at100 - dropped) / 1000);
    // The agent stamps ingest time when it makes a row's envelope: drop → first envelope is the agent's share.
    const firstIngest = (await pool.query<{ t: number }>(`SELECT extract(epoch FROM min(ingest_time)) * 1000 AS t FROM ${table}`)).rows[0]!.t;
    const allSeconds = Math.max(seconds(postgres), seconds(search), seconds(objectStore));
    return {
      rows,
      fileMb: round(bytes / 1024 / 1024),
      firstRowInPostgresMs: Math.round(firstRow.at100 - dropped),
      firstEnvelopeMadeMs: Math.round(Number(firstIngest) - droppedAt),
      allInKafkaSeconds: seconds(kafka),
      allInPostgresSeconds: seconds(postgres),
      allInSearchSeconds: seconds(search),
      allInObjectStoreSeconds: seconds(objectStore),
      recordsPerSecondToAllStores: Math.round(rows / allSeconds),
      agentPeakRssMb: Math.round((processCost(agent.pid ?? -1)?.peakRssBytes ?? NaN) / 1024 / 1024),
      ...withLoad(),
    };
  } finally {
    await stopProcess(agent);
    await consumer.stop();
    await offsets.close();
    await fetch(`${stack.searchUrl}/sluice-${dataset}-*`, { method: 'DELETE' }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function main(): Promise<void> {
  await migrate(stack.pgUrl, stateSchema);
  const pool = createPool(stack.pgUrl, stateSchema);
  const producer = new KafkaProducer({ brokers: stack.kafkaBrokers, clientId: 'bench-control-plane' });
  const out: Record<string, unknown> = { bench: 'control-plane', startedAt: new Date().toISOString(), cpus: os.cpus().length };
  const count = (dataset: string) => async () => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${dataSchema}.${dataset}`)).rows[0]!.n);
  try {
    if (which.has('postgres')) {
      const rows = Number(process.env.BENCH_PG_ROWS ?? 1_000_000);
      const consumed = await throughput(pool, producer, 'pg', { postgres: { enabled: true } }, rows, (d) => count(d)());
      const copy = psqlCopyBaseline(`${dataSchema}.pg_${id}`, rows);
      out.kafkaToPostgres = { ...consumed, psqlCopyPerSecond: copy.perSecond, ratioToPsqlCopy: round(Number(consumed.perSecond) / copy.perSecond) };
    }
    if (which.has('raw-topic')) {
      const rows = Number(process.env.BENCH_RAW_ROWS ?? 500_000);
      const raw = await throughput(pool, producer, 'raw', { postgres: { enabled: true } }, rows, (d) => count(d)(), { raw: true });
      const envelopes = out.kafkaToPostgres as { perSecond?: number } | undefined;
      out.rawTopicToPostgres = { ...raw, ...(envelopes?.perSecond === undefined ? {} : { ratioToEnvelopes: round(Number(raw.perSecond) / envelopes.perSecond) }) };
    }
    if (which.has('search')) {
      const rows = Number(process.env.BENCH_SEARCH_DOCS ?? 50_000);
      out.kafkaToSearch = await throughput(pool, producer, 'search', { search: { enabled: true } }, rows, (d) => searchCount(`sluice-${d}`));
    }
    if (which.has('object-store')) {
      const rows = Number(process.env.BENCH_S3_ROWS ?? 100_000);
      out.kafkaToObjectStore = await throughput(pool, producer, 's3', { objectStore: { enabled: true, partitionBy: 'hour' } }, rows, async () => {
        const r = await pool.query<{ n: string }>(`SELECT coalesce(sum(ingested), 0) AS n FROM ingest_counts WHERE dataset = $1`, [`s3_${id}`]);
        return Number(r.rows[0]?.n ?? 0);
      });
    }
    if (which.has('consumer-scaling')) {
      const counts = (process.env.BENCH_SCALING_PROCESSES ?? '1,2,4').split(',').map(Number);
      out.consumerScaling = await consumerScaling(pool, Number(process.env.BENCH_SCALING_ROWS ?? 500_000), counts);
    }
    if (which.has('consumer-memory')) out.consumerMemory = await consumerMemory(pool, producer, Number(process.env.BENCH_BACKLOG_ROWS ?? 2_000_000));
    if (which.has('drop')) out.dropToStores = await dropToStores(pool, Number(process.env.BENCH_DROP_ROWS ?? 200_000));
    if (which.has('latency')) {
      const seconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
      const rates = (process.env.BENCH_RATES ?? '1000,5000').split(',').map(Number);
      out.endToEndLatency = [];
      for (const rate of rates) (out.endToEndLatency as unknown[]).push(await latency(pool, producer, rate, seconds));
    }
    if (which.has('agent-latency')) {
      const seconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
      const rates = (process.env.BENCH_RATES ?? '1000,5000').split(',').map(Number);
      out.agentFileToPostgresLatency = [];
      for (const rate of rates) (out.agentFileToPostgresLatency as unknown[]).push(await agentLatency(pool, rate, seconds));
    }
  } finally {
    await producer.close();
    await pool.query(`DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`);
    await pool.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`);
    await pool.end();
    await fetch(`${stack.searchUrl}/sluice-search_${id}-*`, { method: 'DELETE' }).catch(() => undefined);
    if (which.has('raw-topic')) await deleteTopics(stack.kafkaBrokers, [`bench.raw.${id}`]).catch(() => undefined);
    const { ObjectStoreSink } = await import('@sluice/control-plane/sinks/object-store/object-store-sink');
    await new ObjectStoreSink({ endpoint: stack.s3.endpoint, accessKey: stack.s3.accessKey, secretKey: stack.s3.secretKey, bucket }).removeBucket().catch(() => undefined);
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
