/**
 * Transforms and quality rules on the real stack: datasets created through the REST API with transforms
 * (rename, derive, lookup from a lookup table) and rules; records through Kafka and the real consumer into
 * PostgreSQL. A rule that fails every record and a slow expression dead-letter their own datasets' records
 * with the rule's name or the time limit, and the neighbouring dataset in the same batches loads in full.
 * The quality report, the dry run and the lookup API answer what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import type { DryRunResponse, QualityReport } from '@sluice/shared/api/datasets';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { envelope } from './support/messages.ts';
import { countRows, createTopics, envelopeMessage, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let server: TestServer;
let producer: KafkaProducer;
let consumer: RunningConsumer | undefined;
let key = '';

async function api<T>(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, status = method === 'POST' && !url.endsWith('dry-run') ? 201 : 200): Promise<T> {
  const res = await server.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  expect(res.statusCode, res.body).toBe(status);
  return res.json<T>();
}

const DATASETS = ['tq_readings', 'tq_reject_all', 'tq_slow', 'tq_plain'];
const dlq = async (dataset: string) => (await state.pool.query<{ reason: string }>('SELECT reason FROM dlq WHERE dataset = $1 ORDER BY record_id', [dataset])).rows.map((r) => r.reason);

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema);
  server = await testServer(state.pool, { topicPrefix: config.topicPrefix });
  key = (await new ApiKeyStore(state.pool).create('operator', 'transforms test')).key;
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'transforms-int' });
  await createTopics(config, [...DATASETS.map((d) => `${config.topicPrefix}${d}`), config.dlqTopic]);
  await api('PUT', '/api/v1/lookups/devices', { description: 'where each device is', rows: [{ key: 'd1', value: 'berlin' }, { key: 'd2', value: 'lisbon' }] });
  const pg = { postgres: { enabled: true } };
  await api('POST', '/api/v1/datasets', {
    name: 'tq_readings',
    sinks: pg,
    schema: { type: 'object', required: ['device', 'celsius', 'fahrenheit'], properties: { device: { type: 'string' }, celsius: { type: 'number' }, fahrenheit: { type: 'number' }, site: { type: 'string' } } },
    transforms: [
      { rename: { from: '/t', to: '/celsius' } },
      { derive: { field: '/fahrenheit', expression: 'celsius * 9 / 5 + 32' } },
      { lookup: { table: 'devices', key: '/device', into: '/site' } },
      { drop: ['/debug'] },
    ],
    rules: [
      { name: 'has_device', notEmpty: '/device' },
      { name: 'sane_temp', severity: 'warn', range: { field: '/celsius', min: -40, max: 60 } },
    ],
  });
  await api('POST', '/api/v1/datasets', { name: 'tq_reject_all', sinks: pg, schema: { type: 'object' }, rules: [{ name: 'never', expression: { expression: 'false' } }] });
  await api('POST', '/api/v1/datasets', { name: 'tq_slow', sinks: pg, schema: { type: 'object' }, transforms: [{ derive: { field: '/x', expression: '$sum([1..3000000].($ * 2))', timeoutMs: 20 } }] });
  await api('POST', '/api/v1/datasets', { name: 'tq_plain', sinks: pg, schema: { type: 'object' } });
  consumer = await startConsumer(config, createLogger('transforms-int', { level: 'warn' }));
});

afterAll(async () => {
  await consumer?.stop();
  await producer?.close();
  await server?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

describe('transforms and quality rules (real consumer and PostgreSQL)', () => {
  it('transforms and judges records; a failing rule and a slow expression stay in their own datasets', async () => {
    const send = (dataset: string, n: number, payload: (i: number) => unknown) =>
      Array.from({ length: n }, (_, i) => envelopeMessage(`${config.topicPrefix}${dataset}`, envelope(dataset, `${dataset}-${String(i).padStart(3, '0')}`, payload(i))));
    await producer.send([
      ...send('tq_readings', 4, (i) => [{ t: 20, device: 'd1', debug: 1 }, { t: 99, device: 'd2' }, { t: 5, device: '' }, { t: 7, device: 'd9' }][i]),
      ...send('tq_reject_all', 5, (i) => ({ i })),
      ...send('tq_slow', 5, (i) => ({ i })),
      ...send('tq_plain', 200, (i) => ({ i })),
    ]);
    const table = (d: string) => `${config.dataSchema}.${d}`;
    await waitFor('the neighbour loaded in full', () => countRows(state.pool, table('tq_plain')).catch(() => 0), (n) => n === 200, 60_000);
    await waitFor('the readings', () => countRows(state.pool, table('tq_readings')).catch(() => 0), (n) => n === 3, 60_000);
    const { rows } = await state.pool.query<{ payload: Record<string, unknown> }>(`SELECT payload FROM ${table('tq_readings')} ORDER BY id`);
    expect(rows.map((r) => r.payload)).toEqual([
      { celsius: 20, fahrenheit: 68, device: 'd1', site: 'berlin' },
      { celsius: 99, fahrenheit: 210.2, device: 'd2', site: 'lisbon' },
      { celsius: 7, fahrenheit: 44.6, device: 'd9' },
    ]);
    expect(await waitFor('the readings DLQ', () => dlq('tq_readings'), (d) => d.length === 1, 30_000)).toEqual(['quality rule has_device failed: /device is empty']);
    const rejected = await waitFor('every record of tq_reject_all in the DLQ', () => dlq('tq_reject_all'), (d) => d.length === 5, 30_000);
    expect(new Set(rejected)).toEqual(new Set(['quality rule never failed: false is false, not true']));
    const slow = await waitFor('every record of tq_slow in the DLQ', () => dlq('tq_slow'), (d) => d.length === 5, 30_000);
    expect(slow.every((r) => r.startsWith('transform failed: transforms[0] derive /x: the expression ran out of time (20 ms)'))).toBe(true);
    expect(await countRows(state.pool, table('tq_reject_all')).catch(() => 0)).toBe(0);

    // The quality report: counts per rule, the warned record loaded, the worst offender named.
    const report = await waitFor(
      'the quality counts',
      () => api<QualityReport>('GET', '/api/v1/datasets/tq_readings/quality'),
      (r) => r.rules.reduce((n, x) => n + x.pass + x.warn + x.fail, 0) === 8,
      30_000,
    );
    const byRule = Object.fromEntries(report.rules.map((r) => [r.rule, r]));
    expect(byRule.has_device).toMatchObject({ severity: 'fail', pass: 3, warn: 0, fail: 1, offenders: [{ value: '', count: 1, lastReason: '/device is empty' }] });
    // Every rule judges every record, the one that failed has_device too.
    expect(byRule.sane_temp).toMatchObject({ severity: 'warn', pass: 3, warn: 1, fail: 0, offenders: [{ value: 99, count: 1 }] });
    const metrics = await consumer!.metrics.registry.getSingleMetricAsString('sluice_quality_outcomes_total');
    expect(metrics).toContain('sluice_quality_outcomes_total{dataset="tq_reject_all",rule="never",outcome="fail"} 5');
  });

  it('dry-runs sample records through the stored version and through proposed rules, storing nothing', async () => {
    const stored = await api<DryRunResponse>('POST', '/api/v1/datasets/tq_readings/dry-run', { records: [{ t: 20, device: 'd2' }, { t: 5, device: '' }, { t: 'x', device: 'd1' }] });
    expect(stored.summary).toEqual({ loaded: 1, deadLettered: 2, warned: 0 });
    expect(stored.results[0]).toMatchObject({ outcome: 'loaded', payload: { celsius: 20, fahrenheit: 68, device: 'd2', site: 'lisbon' } });
    expect(stored.results[1]).toMatchObject({ outcome: 'dead-lettered', reason: 'quality rule has_device failed: /device is empty' });
    expect(stored.results[2]?.reason).toMatch(/^transform failed: transforms\[1\] derive \/fahrenheit: the expression failed/);
    const proposed = await api<DryRunResponse>('POST', '/api/v1/datasets/tq_readings/dry-run', {
      records: [{ t: 5, device: '' }],
      proposed: { rules: [{ name: 'has_device', severity: 'warn', notEmpty: '/device' }] },
    });
    expect(proposed.results[0]).toMatchObject({ outcome: 'loaded', rules: [{ rule: 'has_device', outcome: 'warn', reason: '/device is empty' }] });
    const bad = await server.app.inject({ method: 'POST', url: '/api/v1/datasets/tq_readings/dry-run', headers: { authorization: `Bearer ${key}` }, payload: { records: [{}], proposed: { transforms: [{ derive: { field: '/x', expression: '1 +' } }] } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { message: string } }>().error.message).toMatch(/^transforms\[0\]: the expression does not parse/);
    expect(await countRows(state.pool, `${config.dataSchema}.tq_readings`)).toBe(3);
  });

  it('lists and pages lookup tables', async () => {
    const list = await api<{ items: Array<{ name: string; rows: number }> }>('GET', '/api/v1/lookups');
    expect(list.items).toEqual([expect.objectContaining({ name: 'devices', rows: 2 })]);
    const page = await api<{ rows: Array<{ key: string }>; nextAfter?: string }>('GET', '/api/v1/lookups/devices?limit=1');
    expect(page).toMatchObject({ rows: [{ key: 'd1' }], nextAfter: 'd1' });
    const next = await api<{ rows: Array<{ key: string }>; nextAfter?: string }>('GET', '/api/v1/lookups/devices?limit=1&after=d1');
    expect(next.rows).toEqual([{ key: 'd2', value: 'lisbon' }]);
    expect(next.nextAfter).toBeUndefined();
  });
});
