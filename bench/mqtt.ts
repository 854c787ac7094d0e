// `npm run bench:mqtt`: the mqtt source's figures as JSON, each beside the machine's load. The broker is the
// stack's mosquitto (SLUICE_MQTT_URL), the publisher Debian's mosquitto_pub, the outbox and Kafka real.
//   queued  N messages (BENCH_MQTT_MESSAGES, default 200,000, ~60 bytes) published while the source is away,
//           waiting in its persistent session; then the source starts: records/s broker → committed outbox
//           (fsync per batch, PUBACKs after it) and broker → acknowledged by Kafka, with the commits made
//   live    the same count published by two mosquitto_pub processes while the source runs: records/s from the
//           first publish to the last record acknowledged by Kafka (bounded by the publishers as much as by us)
//   stores  the same count through the whole path run as processes (agent, consumer, control plane): records/s
//           from the first publish to the last row in PostgreSQL
// Parts: `node bench/mqtt.ts [queued live stores]`.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MqttSource, defaultClientId } from '@sluice/agent/sources/mqtt/mqtt-source';
import type { MqttSourceConfig } from '@sluice/shared/agent-config/mqtt';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { publishLines, removeSession } from '../agent/test/support/mosquitto.ts';
import { mqttConfig } from '../agent/test/support/source-config.ts';
import { startSourcePipeline, type SourcePipeline } from '../agent/test/support/source-pipeline.ts';
import { StoresPipeline } from './lib/stores-pipeline.ts';
import { machineLoad, withLoad } from './lib/process-meter.ts';

const stack = loadStackEnv();
const N = Number(process.env.BENCH_MQTT_MESSAGES ?? 200_000);
const root = mkdtempSync(path.join(tmpdir(), 'sluice-bench-mqtt-'));
const AGENT = 'bench';

function configOf(id: string, topic: string): MqttSourceConfig {
  return mqttConfig({ type: 'mqtt', id, dataset: `bench_${id.replace(/-/g, '_')}`, url: stack.mqttUrl, topics: [`${topic}/+sensor`] });
}

const lines = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => JSON.stringify({ seq: from + i, c: 21.5, ts: '2026-12-03T12:00:00Z' }));
const round = (n: number): number => Math.round(n * 100) / 100;

async function start(config: MqttSourceConfig, dir: string): Promise<{ source: MqttSource; pipeline: SourcePipeline }> {
  const source = new MqttSource(config, { baseDir: dir });
  const pipeline = await startSourcePipeline({ dir, brokers: stack.kafkaBrokers, source, agentId: AGENT, maxRows: 10_000_000 });
  return { source, pipeline };
}

interface Counts {
  committed: number;
  acknowledged: number;
  batches: number;
}
const details = (source: MqttSource): Counts => source.status().details as unknown as Counts;

async function until(check: () => boolean, what: string, progress: () => unknown, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let next = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}: ${JSON.stringify(progress())}`);
    if (process.env.BENCH_DEBUG && Date.now() > next) {
      process.stderr.write(`bench: waiting for ${what}: ${JSON.stringify(progress())}\n`);
      next = Date.now() + 5000;
    }
    await sleep(5);
  }
}

async function queued(): Promise<Record<string, unknown>> {
  const id = `queued-${randomBytes(3).toString('hex')}`;
  const topic = `sluice-bench/${id}`;
  const config = configOf(id, topic);
  const dir = mkdtempSync(path.join(root, 'queued-'));
  // The session and its subscription exist before the messages are published.
  const first = await start(config, dir);
  await until(() => first.source.status().caughtUp === true, 'the subscription', () => first.source.status());
  await first.pipeline.stop(0);
  const publishStarted = performance.now();
  await Promise.all([publishLines(stack.mqttUrl, `${topic}/a`, lines(N / 2)), publishLines(stack.mqttUrl, `${topic}/b`, lines(N / 2, N / 2))]);
  const publishSeconds = (performance.now() - publishStarted) / 1000;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const { source, pipeline } = await start(config, dir);
  await until(() => details(source).committed >= N, 'the commits', () => source.status().details);
  const committedSeconds = (performance.now() - started) / 1000;
  await until(() => pipeline.outbox.stats().rows === 0, 'the outbox to drain', () => pipeline.outbox.stats());
  const shippedSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const { batches, acknowledged } = details(source);
  await pipeline.stop(0);
  await removeSession(stack.mqttUrl, defaultClientId(AGENT, id)).catch(() => undefined);
  return {
    messages: N,
    publishRecordsPerSecond: Math.round(N / publishSeconds),
    toOutboxRecordsPerSecond: Math.round(N / committedSeconds),
    toKafkaRecordsPerSecond: Math.round(N / shippedSeconds),
    seconds: round(shippedSeconds),
    commits: batches,
    recordsPerCommit: Math.round(N / batches),
    acknowledged,
    cpuSeconds: round((cpu.user + cpu.system) / 1e6),
  };
}

async function live(): Promise<Record<string, unknown>> {
  const id = `live-${randomBytes(3).toString('hex')}`;
  const topic = `sluice-bench/${id}`;
  const dir = mkdtempSync(path.join(root, 'live-'));
  const { source, pipeline } = await start(configOf(id, topic), dir);
  await until(() => source.status().caughtUp === true, 'the subscription', () => source.status());
  const started = performance.now();
  await Promise.all([publishLines(stack.mqttUrl, `${topic}/a`, lines(N / 2)), publishLines(stack.mqttUrl, `${topic}/b`, lines(N / 2, N / 2))]);
  const publishSeconds = (performance.now() - started) / 1000;
  await until(() => details(source).committed >= N && pipeline.outbox.stats().rows === 0, 'every record in Kafka', () => ({ ...source.status().details, outbox: pipeline.outbox.stats().rows }));
  const seconds = (performance.now() - started) / 1000;
  const { batches } = details(source);
  await pipeline.stop(0);
  await removeSession(stack.mqttUrl, defaultClientId(AGENT, id)).catch(() => undefined);
  return { messages: N, publishRecordsPerSecond: Math.round(N / publishSeconds), endToEndRecordsPerSecond: Math.round(N / seconds), seconds: round(seconds), commits: batches };
}

async function stores(): Promise<Record<string, unknown>> {
  const run = new StoresPipeline({
    name: 'bench_mqtt',
    sinks: { postgres: { enabled: true }, search: { enabled: false }, objectStore: { enabled: false } },
    schema: { type: 'object', required: ['seq'], properties: { seq: { type: 'integer' }, c: { type: 'number' }, ts: { type: 'string' }, sensor: { type: 'string' } } },
    sources: (p) => ['  - type: mqtt', '    id: mqtt', `    dataset: ${p.dataset}`, `    url: ${JSON.stringify(p.stack.mqttUrl)}`, `    topics: [${JSON.stringify(`sluice-bench/${p.id}/+sensor`)}]`],
  });
  try {
    await run.start();
    await run.until('the subscription', async () => ((await run.agentStatus())?.sources[0]?.details?.connection === 'connected' ? true : undefined));
    const count = async (): Promise<number> => (await run.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${run.table}`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0]!.n;
    const started = performance.now();
    const topic = `sluice-bench/${run.id}`;
    await Promise.all([publishLines(stack.mqttUrl, `${topic}/a`, lines(N / 2)), publishLines(stack.mqttUrl, `${topic}/b`, lines(N / 2, N / 2))]);
    const publishSeconds = (performance.now() - started) / 1000;
    await run.until(`${N} rows`, async () => ((await count()) >= N ? true : undefined), 600_000);
    const seconds = (performance.now() - started) / 1000;
    const rows = await count();
    return { messages: N, rows, publishRecordsPerSecond: Math.round(N / publishSeconds), toPostgresRecordsPerSecond: Math.round(N / seconds), seconds: round(seconds) };
  } finally {
    await run.stop();
    await removeSession(stack.mqttUrl, defaultClientId(run.agentId, 'mqtt')).catch(() => undefined);
  }
}

const parts = new Set(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['queued', 'live', 'stores']);
const result = {
  machine: { cpus: availableParallelism(), node: process.version, load: machineLoad() },
  ...(parts.has('queued') ? { queued: await withLoad(queued()) } : {}),
  ...(parts.has('live') ? { live: await withLoad(live()) } : {}),
  ...(parts.has('stores') ? { stores: await withLoad(stores()) } : {}),
};
rmSync(root, { recursive: true, force: true });
console.log(JSON.stringify(result, null, 2));
process.exit(0);
