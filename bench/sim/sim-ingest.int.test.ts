/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- inject().json() is untyped; the assertions check its shape */
/**
 * sluice-sim against the real thing: the IoT scenario through the control plane's batch ingest (HTTP, an
 * operator key) → Kafka → the consumer → PostgreSQL rows and 1-minute panes. Every event lands as one row and
 * is counted once in the panes, also when the same run is sent again; the silenced device has no rows in
 * its window and the shifted one reads warmer there, in the rows and in the aggregates the API answers.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConsumer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../../control-plane/src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../../control-plane/src/consumer/consumer-service.ts';
import { countRows, createTopics, testConfig, waitFor } from '../../control-plane/test/support/harness.ts';
import { freshState, stackEnv, suffix } from '../../control-plane/test/support/state.ts';
import { testServer, type TestServer } from '../../control-plane/test/support/test-server.ts';
import { parseAnomalyFlag } from './anomalies.ts';
import { runSimulation, type SimulationOptions, type SimulationSummary } from './simulator.ts';
import { HttpTarget } from './targets/http-target.ts';
import { KafkaTarget } from './targets/kafka-target.ts';

const example = JSON.parse(
  readFileSync(new URL('./examples/iot-readings.dataset.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const dataset = `sim_iot_${suffix()}`;
const logs = `sim_logs_${suffix()}`;
const MINUTE = 60_000;
// Ten minutes ago, to the minute: 5 minutes of event time (a 3-second run at time scale 100).
const START = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let server: TestServer;
let app: FastifyInstance;
let baseUrl = '';
let operator = '';
let consumer: RunningConsumer | undefined;

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema);
  operator = (await new ApiKeyStore(state.pool).create('operator', 'sluice-sim')).key;
  server = await testServer(state.pool, {
    topicPrefix: config.topicPrefix,
    maxRecordBytes: 64 * 1024,
    bodyLimitBytes: 4 * 1024 * 1024,
  });
  app = server.app;
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  await createTopics(config, [
    `${config.topicPrefix}${dataset}`,
    `${config.topicPrefix}${logs}`,
    config.dlqTopic,
  ]);
  // The example a user would publish after `npm start`, under this test's own name.
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/datasets',
    headers: { authorization: `Bearer ${operator}` },
    payload: { ...example, name: dataset },
  });
  expect(created.statusCode, created.body).toBe(201);
  const logsDataset = {
    name: logs,
    sinks: { postgres: { enabled: true } },
    eventTime: { field: '/ts', format: 'rfc3339' },
    aggregations: [
      { name: 'by_service', groupBy: ['/service'], measures: [{ field: '/latency_ms', percentiles: true }] },
    ],
    schema: { type: 'object', required: ['ts', 'service', 'level', 'latency_ms'] },
  };
  const createdLogs = await app.inject({
    method: 'POST',
    url: '/api/v1/datasets',
    headers: { authorization: `Bearer ${operator}` },
    payload: logsDataset,
  });
  expect(createdLogs.statusCode, createdLogs.body).toBe(201);
  consumer = await startConsumer(config, createLogger('sim-int', { level: 'warn' }));
});

afterAll(async () => {
  await consumer?.stop();
  await server?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

const options: SimulationOptions = {
  scenario: 'iot',
  seed: 42,
  entities: 30,
  ratePerSecond: 400,
  count: 1200,
  startMs: START,
  timeScale: 100,
  skewMs: 0,
  lateFraction: 0,
  lateByMs: 0,
  anomalies: [
    parseAnomalyFlag('silence@1m+2m:target=dev-00003'),
    parseAnomalyFlag('shift@3m+1m:target=dev-00005,delta=10'),
  ],
  dataset,
};

async function run(): Promise<SimulationSummary> {
  const target = new HttpTarget({ kind: 'ingest', url: baseUrl, dataset, token: operator, connections: 4 });
  try {
    return await runSimulation(options, { target });
  } finally {
    await target.close();
  }
}

const paneRows = async (aggregation: string): Promise<number> => {
  const res = await state.pool.query<{ n: string | null }>(
    `SELECT sum(rows) AS n FROM analytics_panes WHERE dataset = $1 AND aggregation = $2`,
    [dataset, aggregation],
  );
  return Number(res.rows[0]?.n ?? 0);
};

describe('sluice-sim → control plane ingest or Kafka → PostgreSQL', () => {
  it('lands every event once as a row and in the panes, with the injected anomalies where the schedule says', async () => {
    const summary = await run();
    expect(summary.error).toBeNull();
    expect(summary.accepted).toBe(1200);
    expect(summary.rejected).toBe(0);
    expect(summary.anomalies).toEqual([
      {
        kind: 'silence',
        from: new Date(START + MINUTE).toISOString(),
        to: new Date(START + 3 * MINUTE).toISOString(),
        target: 'dev-00003',
        events: expect.any(Number),
      },
      {
        kind: 'shift',
        from: new Date(START + 3 * MINUTE).toISOString(),
        to: new Date(START + 4 * MINUTE).toISOString(),
        target: 'dev-00005',
        delta: 10,
        field: 'temperature',
        events: expect.any(Number),
      },
    ]);
    // 30 devices in turn at 400/s, time scale 100: each reports every 7.5 s of event time, 16 times in 2 minutes.
    expect(summary.anomalies[0]!.events).toBe(16);
    expect(summary.suppressed).toBe(16);

    const table = `${config.dataSchema}.${dataset}`;
    await waitFor(
      'the rows',
      () => countRows(state.pool, table),
      (n) => n === 1200,
      90_000,
    );
    await waitFor(
      'the volume panes',
      () => paneRows('volume'),
      (n) => n === 1200,
      30_000,
    );
    expect(await paneRows('by_device')).toBe(1200);

    // The rows carry the payload's event time; the silenced device has none in its window, some either side.
    const inWindow = (device: string, fromMin: number, toMin: number) =>
      state.pool.query<{ n: string; avg: number | null }>(
        `SELECT count(*) AS n, avg((payload->>'temperature')::float8) AS avg FROM ${table} WHERE payload->>'device' = $1 AND event_time >= $2 AND event_time < $3`,
        [device, new Date(START + fromMin * MINUTE), new Date(START + toMin * MINUTE)],
      );
    expect(Number((await inWindow('dev-00003', 1, 3)).rows[0]!.n)).toBe(0);
    expect(Number((await inWindow('dev-00003', 0, 1)).rows[0]!.n)).toBe(8);
    expect(Number((await inWindow('dev-00003', 3, 5)).rows[0]!.n)).toBe(16);

    // Through the query API: one-minute windows of the shifted device are ~10 °C warmer during its shift.
    const viewer = (await new ApiKeyStore(state.pool).create('viewer', 'sim viewer')).key;
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/analytics/${dataset}/aggregates?aggregation=by_device&windowMinutes=1&group=${encodeURIComponent('["dev-00005"]')}&from=${new Date(START).toISOString()}&to=${new Date(START + 5 * MINUTE).toISOString()}`,
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    const windows = res.json().windows as Array<{
      start: string;
      count: number;
      measures: Record<string, { avg: number }>;
    }>;
    expect(windows.map((w) => w.start)).toEqual(
      [0, 1, 2, 3, 4].map((m) => new Date(START + m * MINUTE).toISOString()),
    );
    const avg = windows.map((w) => w.measures['/temperature']!.avg);
    expect(avg[3]! - avg[2]!).toBeGreaterThan(7);
    expect(avg[3]! - avg[4]!).toBeGreaterThan(7);

    // The same run again (same seed and start: the same Idempotency-Keys, so the same record ids) adds nothing.
    const again = await run();
    expect(again.accepted).toBe(1200);
    // Once the consumer has committed past both runs' 2,400 messages, the second run was processed.
    const lagClient = new KafkaConsumer({
      brokers: stackEnv.kafkaBrokers,
      clientId: 'sim-int-lag',
      groupId: config.groupId,
      topics: [],
    });
    try {
      const committed = async (): Promise<{ committed: bigint; lag: bigint }> => {
        const parts = await lagClient.lag([`${config.topicPrefix}${dataset}`]);
        return parts.reduce((sum, p) => ({ committed: sum.committed + p.committed, lag: sum.lag + p.lag }), {
          committed: 0n,
          lag: 0n,
        });
      };
      await waitFor(
        'the second run consumed',
        committed,
        (c) => c.committed === 2400n && c.lag === 0n,
        60_000,
      );
    } finally {
      await lagClient.close();
    }
    expect(await countRows(state.pool, table)).toBe(1200);
    expect(await paneRows('volume')).toBe(1200);
  });

  it('sends service logs straight to Kafka as envelopes the consumer loads, ids from the run and sequence', async () => {
    const logsOptions: SimulationOptions = {
      ...options,
      scenario: 'logs',
      entities: 5,
      count: 800,
      ratePerSecond: 200,
      anomalies: [parseAnomalyFlag('spike@1m+1m:factor=3')],
      dataset: logs,
    };
    const runId = `logs-42-${Math.floor(START / 1000)}`;
    const target = new KafkaTarget({
      brokers: stackEnv.kafkaBrokers,
      dataset: logs,
      topicPrefix: config.topicPrefix,
      agentId: 'sluice-sim',
      sourceId: 'sim-logs',
      runId,
    });
    let summary: SimulationSummary;
    try {
      summary = await runSimulation(logsOptions, { target });
    } finally {
      await target.close();
    }
    expect(summary).toMatchObject({ error: null, accepted: 800, target: 'kafka', runId });
    const table = `${config.dataSchema}.${logs}`;
    await waitFor(
      'the log rows',
      () => countRows(state.pool, table).catch(() => 0),
      (n) => n === 800,
      90_000,
    );
    const rows = await state.pool.query<{ id: string; agent_id: string; event_time: Date; ts: string }>(
      `SELECT id, agent_id, event_time, payload->>'ts' AS ts FROM ${table} ORDER BY (payload->>'seq')::int LIMIT 3`,
    );
    expect(rows.rows.map((r) => r.id)).toEqual(
      [0, 1, 2].map((seq) => `sluice-sim:sim-logs:h:${runId}:${String(seq)}`),
    );
    expect(rows.rows.every((r) => r.agent_id === 'sluice-sim' && r.event_time.toISOString() === r.ts)).toBe(
      true,
    );
    // The spike: three times the events in its minute of event time (120 a minute at 200/s × 100, then 360).
    const perMinute = await state.pool.query<{ minute: Date; n: string }>(
      `SELECT date_trunc('minute', event_time) AS minute, count(*) AS n FROM ${table} GROUP BY 1 ORDER BY 1`,
    );
    const counts = perMinute.rows.map((r) => Number(r.n));
    expect(counts.slice(0, 2)).toEqual([120, 360]);
    await waitFor(
      'the log panes',
      async () => {
        const res = await state.pool.query<{ n: string | null }>(
          `SELECT sum(rows) AS n FROM analytics_panes WHERE dataset = $1`,
          [logs],
        );
        return Number(res.rows[0]?.n ?? 0);
      },
      (n) => n === 800,
      30_000,
    );
  });
});
