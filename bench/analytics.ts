/**
 * Analytics benchmark, printing one JSON object:
 *   - ingest: the real PostgreSQL sink writing BENCH_ANALYTICS_ROWS records in batches of BENCH_ANALYTICS_BATCH,
 *     once into a dataset without aggregations (the baseline) and once into one with two aggregations
 *     (a group-by with count/sum/min/max/avg and DDSketch percentiles, and HyperLogLog distinct devices), folded
 *     into 1-minute panes in the same transaction: rows/s of each and their ratio, same run, same machine.
 *   - replay: the same records written again into the aggregating dataset (nothing new, so nothing folds).
 *   - queries: p50/p99 over BENCH_ANALYTICS_QUERIES requests each, through the REST routes of an in-process
 *     server: 5-minute tumbling windows over the data's hour, 15-minute windows hopping every minute for one
 *     group, the current minute's counters, and a filtered page of records.
 *   - e2e: through Kafka and real `sluice-control-plane consume` processes (1, 2, 4 in one group on a 4-partition
 *     topic): a backlog of BENCH_ANALYTICS_E2E_ROWS records into an aggregating dataset, events/s until every
 *     one is in its pane; and, with one consumer, records produced at BENCH_ANALYTICS_E2E_RATE/s for 10 s with
 *     event time = now: p50/p99 from a 100 ms slice's send to all its rows being counted in the panes (what the
 *     counters and aggregates routes read).
 *   - sim: sluice-sim's IoT scenario (event time = now) into the batch ingest of a `serve` process → Kafka → one
 *     `consume` process → the panes, at rising rates (BENCH_ANALYTICS_SIM_RATES, BENCH_ANALYTICS_SIM_SECONDS each):
 *     the rate the simulator achieved, events/s end to end (first send to the last event counted in the `volume`
 *     aggregate the query API answers over HTTP), and p50/p99 from an event's time to its pane showing it there.
 *   node bench/analytics.ts [ingest e2e sim]       (npm run bench:analytics)
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import type { Envelope } from '@sluice/shared/envelope';
import type { DatasetSpec } from '@sluice/shared/dataset';
import { createLogger } from '@sluice/shared/node/logger';
import { migrate } from '@sluice/control-plane/db/migrate';
import { createPool } from '@sluice/control-plane/db/pool';
import { DatasetStore } from '@sluice/control-plane/datasets/dataset-store';
import { PostgresSink } from '@sluice/control-plane/sinks/postgres/postgres-sink';
import { PaneStore } from '@sluice/control-plane/analytics/pane-store';
import { AnalyticsQueries } from '@sluice/control-plane/analytics/analytics-queries';
import { queryRecords } from '@sluice/control-plane/analytics/record-queries';
import { callLatency, percentile } from './lib/latency.ts';
import { startServe, type ServeProcess } from './lib/serve-process.ts';
import { KafkaProducer, deleteTopics, describeGroup, ensureTopics, type OutgoingMessage } from '@sluice/shared/node/kafka';
import { envelopeHeaders } from '@sluice/shared/envelope';
import type pg from 'pg';
import { machineLoad } from './lib/process-meter.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stopProcess, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import type { AggregatesResponse } from '@sluice/shared/api/analytics';
import { runSimulation } from './sim/simulator.ts';
import { HttpTarget } from './sim/targets/http-target.ts';

const stack = loadStackEnv();
const id = randomBytes(3).toString('hex');
const rows = Number(process.env.BENCH_ANALYTICS_ROWS ?? 200_000);
const batchSize = Number(process.env.BENCH_ANALYTICS_BATCH ?? 5_000);
const queries = Number(process.env.BENCH_ANALYTICS_QUERIES ?? 300);
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const START = Date.parse('2026-01-01T10:00:00Z');

const schema = { type: 'object', properties: { site: { type: 'string' }, device: { type: 'string' }, temperature: { type: 'number' }, seq: { type: 'integer' } } };
const aggregations: NonNullable<DatasetSpec['aggregations']> = [
  { name: 'by_site', groupBy: ['/site'], measures: [{ field: '/temperature', percentiles: true }], distinct: [] },
  { name: 'devices', groupBy: [], measures: [], distinct: ['/device'] },
];

function envelopes(dataset: string, from: number, count: number): Envelope[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      id: `bench:${id}:${i}`, dataset, agentId: `agent-${i % 20}`, source: { id: 'bench', kind: 'file' },
      // An hour of event time spread over the rows: 60 panes per group.
      eventTime: new Date(START + Math.floor((i / rows) * 3_600_000)).toISOString(), ingestTime: new Date().toISOString(), schemaVersion: 1,
      payload: { site: `site-${i % 10}`, device: `dev-${i % 2000}`, temperature: 15 + ((i * 7) % 200) / 10, seq: i },
    };
  });
}

async function load(sink: PostgresSink, spec: DatasetSpec): Promise<number> {
  const dataset = { spec, version: 1, schema };
  const prepared = await sink.prepare(dataset);
  if (prepared.kind !== 'ok') throw new Error(`prepare: ${JSON.stringify(prepared)}`);
  const started = performance.now();
  for (let from = 0; from < rows; from += batchSize) {
    const records = envelopes(spec.name, from, Math.min(batchSize, rows - from)).map((envelope, k) => ({ envelope, topic: `bench.${spec.name}`, partition: 0, offset: BigInt(from + k) }));
    const result = await sink.write({ dataset, topic: `bench.${spec.name}`, partition: 0, firstOffset: records[0]!.offset, lastOffset: records.at(-1)!.offset, records });
    if (result.kind !== 'ok') throw new Error(`write: ${JSON.stringify(result)}`);
  }
  return rows / ((performance.now() - started) / 1000);
}

const parts = new Set(process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['ingest', 'e2e', 'sim']);
const e2eRows = Number(process.env.BENCH_ANALYTICS_E2E_ROWS ?? 300_000);
const e2eRate = Number(process.env.BENCH_ANALYTICS_E2E_RATE ?? 5_000);
const e2eConsumers = (process.env.BENCH_ANALYTICS_CONSUMERS ?? '1,2,4').split(',').map(Number);

function message(topic: string, dataset: string, i: number, eventTime: string): OutgoingMessage {
  const envelope: Envelope = {
    id: `bench:${id}:${dataset}:${i}`, dataset, agentId: `agent-${i % 20}`, source: { id: 'bench', kind: 'file' }, eventTime, ingestTime: eventTime, schemaVersion: 1,
    payload: { site: `site-${i % 10}`, device: `dev-${i % 2000}`, temperature: 15 + ((i * 7) % 200) / 10, seq: i },
  };
  return { topic, key: envelope.id, value: Buffer.from(JSON.stringify(envelope)), headers: envelopeHeaders(dataset, envelope.agentId, 1) };
}

async function folded(pool: pg.Pool, dataset: string): Promise<number> {
  const r = await pool.query<{ n: string | null }>(`SELECT sum(rows) AS n FROM analytics_panes WHERE dataset = $1 AND aggregation = 'by_site'`, [dataset]);
  return Number(r.rows[0]?.n ?? 0);
}

async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** One run of `consumers` consumer processes: the backlog's events/s, and (one consumer) the visibility latency. */
async function e2eRun(pool: pg.Pool, datasets: DatasetStore, producer: KafkaProducer, settings: { stateSchema: string; dataSchema: string; topicPrefix: string }, consumers: number): Promise<Record<string, unknown>> {
  const dataset = `e2e${consumers}_${id}`;
  const topic = `${settings.topicPrefix}${dataset}`;
  await datasets.create({ name: dataset, sinks: { postgres: { enabled: true } }, aggregations }, schema);
  await ensureTopics(stack.kafkaBrokers, [{ name: topic, partitions: 4 }]);
  // The backlog first, then the consumers: the figure is the consumers' rate, not the producer's.
  const eventTime = new Date().toISOString();
  for (let from = 0; from < e2eRows; from += 5_000) {
    await producer.send(Array.from({ length: Math.min(5_000, e2eRows - from) }, (_, k) => message(topic, dataset, from + k, eventTime)));
  }
  const processes: ServeProcess[] = [];
  try {
    const group = `bench-analytics-${id}-${consumers}`;
    for (let c = 0; c < consumers; c++) {
      processes.push(await startServe({ stack, ...settings, adminKey: `slk_${randomBytes(24).toString('base64url')}`, command: 'consume', env: { SLUICE_CONSUMER_GROUP: group, SLUICE_TOPIC_REFRESH_MS: '500' } }));
    }
    // Timed from when every process is in the group with its partitions (joins before rebalance the group).
    await until(async () => {
      const members = await describeGroup(stack.kafkaBrokers, group).catch(() => []);
      return members.length === consumers && members.every((m) => m.partitions.some((p) => p.topic === topic));
    }, 120_000, `${consumers} consumers in group ${group} (${processes.map((p) => p.output()).join('\n')})`);
    const load0 = machineLoad();
    const started = performance.now();
    const before = await folded(pool, dataset);
    await until(async () => (await folded(pool, dataset)) >= e2eRows, 600_000, 'the backlog in the panes');
    const seconds = (performance.now() - started) / 1000;
    const out: Record<string, unknown> = { consumers, backlogRows: e2eRows, foldedBeforeTimed: before, eventsPerSecond: Math.round((e2eRows - before) / seconds), loadBefore: load0, loadAfter: machineLoad() };
    if (consumers === 1) out.visibility = await visibility(pool, producer, topic, dataset, e2eRows);
    return out;
  } finally {
    for (const p of processes) p.child.kill('SIGTERM');
    await deleteTopics(stack.kafkaBrokers, [topic]).catch(() => undefined);
  }
}

/** Records at `e2eRate`/s for 10 s in 100 ms slices; per slice, from its send to all its rows in the panes. */
async function visibility(pool: pg.Pool, producer: KafkaProducer, topic: string, dataset: string, already: number): Promise<Record<string, unknown>> {
  const perSlice = Math.max(1, Math.round(e2eRate / 10));
  const slices: Array<{ sentAt: number; through: number }> = [];
  const seen: number[] = [];
  let sent = already;
  let polling = true;
  const poller = (async () => {
    let s = 0;
    while (polling || s < slices.length) {
      const n = await folded(pool, dataset);
      const now = performance.now();
      while (s < slices.length && n >= slices[s]!.through) seen[s] = now - slices[s++]!.sentAt;
      await sleep(20);
    }
  })();
  const start = performance.now();
  for (let k = 0; k < 100; k++) {
    const due = start + k * 100;
    if (performance.now() < due) await sleep(due - performance.now());
    const eventTime = new Date().toISOString();
    const sentAt = performance.now();
    await producer.send(Array.from({ length: perSlice }, (_, j) => message(topic, dataset, 10_000_000 + k * perSlice + j, eventTime)));
    sent += perSlice;
    slices.push({ sentAt, through: sent });
  }
  polling = false;
  await poller;
  const sorted = [...seen].sort((a, b) => a - b);
  return { ratePerSecond: e2eRate, seconds: 10, p50Ms: Math.round(percentile(sorted, 0.5)), p99Ms: Math.round(percentile(sorted, 0.99)), note: 'send → rows counted in the panes, polled every 20 ms' };
}

const simRates = (process.env.BENCH_ANALYTICS_SIM_RATES ?? '2000,5000,10000,20000').split(',').map(Number);
const simSeconds = Number(process.env.BENCH_ANALYTICS_SIM_SECONDS ?? 10);

/** sluice-sim → serve's batch ingest → Kafka → one consumer → panes, read back through the aggregates route. */
async function simRuns(settings: { stateSchema: string; dataSchema: string; topicPrefix: string }): Promise<Record<string, unknown>[]> {
  const adminKey = `slk_${randomBytes(24).toString('base64url')}`;
  const serve = await startServe({ stack, ...settings, adminKey });
  const consume = await startServe({ stack, ...settings, adminKey, command: 'consume', env: { SLUICE_CONSUMER_GROUP: `bench-analytics-sim-${id}`, SLUICE_TOPIC_REFRESH_MS: '500' } });
  const auth = { authorization: `Bearer ${adminKey}` };
  const dataset = `sim_${id}`;
  const benchStart = Math.floor(Date.now() / 60_000) * 60_000;
  try {
    await waitForHttpOk(`${serve.baseUrl}/healthz`, { child: serve.child, output: serve.output, what: 'the control plane', authorization: auth.authorization, timeoutMs: 90_000, intervalMs: 300 });
    const example = JSON.parse(readFileSync(path.join(import.meta.dirname, 'sim/examples/iot-readings.dataset.json'), 'utf8')) as Record<string, unknown>;
    const created = await fetch(`${serve.baseUrl}/api/v1/datasets`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ ...example, name: dataset }) });
    if (created.status !== 201) throw new Error(`dataset: HTTP ${String(created.status)} ${await created.text()}`);
    // What the query API shows: every event of the bench so far in the `volume` aggregate's 1-minute windows.
    const visible = async (): Promise<number> => {
      const q = new URLSearchParams({ aggregation: 'volume', windowMinutes: '1', from: new Date(benchStart).toISOString(), to: new Date(Date.now() + 120_000).toISOString(), limit: '1000' });
      const res = await fetch(`${serve.baseUrl}/api/v1/analytics/${dataset}/aggregates?${q.toString()}`, { headers: auth });
      if (!res.ok) throw new Error(`aggregates: HTTP ${String(res.status)} ${await res.text()}`);
      return ((await res.json()) as AggregatesResponse).windows.reduce((n, w) => n + w.count, 0);
    };
    const target = new HttpTarget({ kind: 'ingest', url: serve.baseUrl, dataset, token: adminKey, connections: 4 });
    const base = { scenario: 'iot', entities: 1000, timeScale: 1, skewMs: 0, lateFraction: 0, lateByMs: 0, anomalies: [], concurrency: 4, dataset } as const;
    const runs: Record<string, unknown>[] = [];
    try {
      // A second of warm-up: the topic exists and the consumer holds its partitions before anything is timed.
      const warm = await runSimulation({ ...base, seed: 1, ratePerSecond: 500, count: 500, startMs: Date.now() }, { target });
      await until(async () => (await visible()) >= warm.accepted, 120_000, 'the warm-up in the panes');
      let total = warm.accepted;
      for (const [i, rate] of simRates.entries()) {
        const loadBefore = machineLoad();
        const samples: Array<{ at: number; n: number }> = [];
        let polling = true;
        const poller = (async () => {
          while (polling) {
            samples.push({ at: Date.now(), n: await visible() });
            await sleep(50);
          }
        })();
        const startMs = Date.now();
        const summary = await runSimulation({ ...base, seed: 100 + i, ratePerSecond: rate, count: Math.round(rate * simSeconds), startMs }, { target });
        const before = total;
        total += summary.accepted;
        const deadline = Date.now() + 300_000;
        while ((samples.at(-1)?.n ?? 0) < total && Date.now() < deadline) await sleep(100);
        polling = false;
        await poller;
        // Event k of the run has event time startMs + k/rate (time scale 1); it is visible at the first sample counting it.
        const latencies: number[] = [];
        const stride = Math.max(1, Math.floor(summary.accepted / 5_000));
        let s = 0;
        for (let k = 0; k < summary.accepted; k += stride) {
          while (s < samples.length && samples[s]!.n < before + k + 1) s++;
          if (s === samples.length) break;
          latencies.push(samples[s]!.at - (startMs + (k * 1000) / rate));
        }
        latencies.sort((a, b) => a - b);
        const last = samples.find((x) => x.n >= total);
        const sendEnd = startMs + summary.elapsedSeconds * 1000;
        runs.push({
          targetRate: rate,
          simulatorRate: summary.achievedRate,
          keptUp: summary.keptUp,
          accepted: summary.accepted,
          rejected: summary.rejected,
          endToEndEventsPerSecond: last ? Math.round(summary.accepted / ((last.at - startMs) / 1000)) : null,
          lastVisibleAfterSendEndMs: last ? Math.round(last.at - sendEnd) : null,
          eventToVisibleP50Ms: Math.round(percentile(latencies, 0.5)),
          eventToVisibleP99Ms: Math.round(percentile(latencies, 0.99)),
          allVisible: last !== undefined,
          loadBefore,
          loadAfter: machineLoad(),
        });
        process.stderr.write(`analytics bench: sim ${JSON.stringify(runs.at(-1))}\n`);
        if (!last) break;
      }
    } finally {
      await target.close();
    }
    return runs;
  } finally {
    await stopProcess(consume.child);
    await stopProcess(serve.child);
    await deleteTopics(stack.kafkaBrokers, [`${settings.topicPrefix}${dataset}`]).catch(() => undefined);
  }
}

const latency = (run: () => Promise<unknown>): Promise<{ p50Ms: number; p99Ms: number }> => callLatency(queries, run);

async function main(): Promise<void> {
  const stateSchema = `bench_analytics_${id}`;
  const dataSchema = `bench_analytics_data_${id}`;
  await migrate(stack.pgUrl, stateSchema);
  const pool = createPool(stack.pgUrl, stateSchema);
  const sink = new PostgresSink({ connectionString: stack.pgUrl, schema: dataSchema, panes: new PaneStore(stateSchema), logger: createLogger('bench-analytics', { level: 'warn' }) });
  const plain: DatasetSpec = { name: `plain_${id}`, sinks: { postgres: { enabled: true } } };
  const aggregating: DatasetSpec = { name: `agg_${id}`, sinks: { postgres: { enabled: true } }, aggregations };
  const datasets = new DatasetStore(pool);
  try {
    if (parts.has('e2e')) {
      const producer = new KafkaProducer({ brokers: stack.kafkaBrokers, clientId: 'bench-analytics' });
      const runs = [];
      try {
        for (const n of e2eConsumers) runs.push(await e2eRun(pool, datasets, producer, { stateSchema, dataSchema, topicPrefix: `benchanalytics${id}.` }, n));
      } finally {
        await producer.close();
      }
      process.stdout.write(`${JSON.stringify({ bench: 'analytics', part: 'e2e', startedAt: new Date().toISOString(), cpus: os.cpus().length, runs }, null, 2)}\n`);
    }
    if (parts.has('sim')) {
      const startedAt = new Date().toISOString();
      const runs = await simRuns({ stateSchema, dataSchema, topicPrefix: `benchanalyticssim${id}.` });
      process.stdout.write(`${JSON.stringify({ bench: 'analytics', part: 'sim', startedAt, cpus: os.cpus().length, seconds: simSeconds, runs }, null, 2)}\n`);
    }
    if (!parts.has('ingest')) return;
    await datasets.create(plain, schema);
    await datasets.create(aggregating, schema);
    const load0 = machineLoad();
    const baseline = await load(sink, plain);
    const folded = await load(sink, aggregating);
    const replayStarted = performance.now();
    const replayed = await load(sink, aggregating);
    const replaySeconds = (performance.now() - replayStarted) / 1000;
    // The replay added nothing: the panes still count every row once.
    const panes = await pool.query<{ n: string; count: string }>(`SELECT count(*) AS n, sum(rows) AS count FROM analytics_panes WHERE dataset = $1 AND aggregation = 'by_site'`, [aggregating.name]);
    const q = new AnalyticsQueries({ pool, datasets, now: () => START + 3_600_000 });
    const from = new Date(START).toISOString();
    const to = new Date(START + 3_600_000).toISOString();
    const out = {
      bench: 'analytics',
      startedAt: new Date().toISOString(),
      cpus: os.cpus().length,
      rows,
      batch: batchSize,
      ingest: {
        baselineRowsPerSecond: Math.round(baseline),
        aggregatingRowsPerSecond: Math.round(folded),
        ratioToBaseline: round(folded / baseline),
        replayRowsPerSecond: Math.round(replayed),
        replaySeconds: round(replaySeconds),
        panes: Number(panes.rows[0]?.n ?? 0),
        rowsInPanes: Number(panes.rows[0]?.count ?? 0),
        exactlyOnce: Number(panes.rows[0]?.count ?? 0) === rows,
        loadBefore: load0,
      },
      queries: {
        requests: queries,
        tumbling5mOverAnHour: await latency(() => q.aggregates(aggregating.name, { aggregation: 'by_site', from, to, windowMinutes: 5, rolling: false, limit: 1000 })),
        hopping15mEvery1mOneGroup: await latency(() => q.aggregates(aggregating.name, { aggregation: 'by_site', from, to, windowMinutes: 15, hopMinutes: 1, rolling: false, group: '["site-3"]', limit: 1000 })),
        distinctDevices5m: await latency(() => q.aggregates(aggregating.name, { aggregation: 'devices', from, to, windowMinutes: 5, rolling: false, limit: 1000 })),
        counters: await latency(() => q.counters(aggregating.name)),
        recordsFiltered: await latency(() => queryRecords({ pool, datasets, dataSchema: () => dataSchema }, aggregating.name, { from, to, filter: ['site:eq:site-3', 'temperature:ge:30'], limit: 100 })),
      },
      loadavg: machineLoad(),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await sink.close();
    await pool.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE; DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`);
    await pool.end();
  }
}

await main();
