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
 *   node bench/analytics.ts        (npm run bench:analytics)
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
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
import { callLatency } from './lib/latency.ts';
import { machineLoad } from './lib/process-meter.ts';

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
