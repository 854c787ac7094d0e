/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- inject().json() is untyped; the assertions check its shape */
/**
 * Anomaly detection against PostgreSQL: records written through the real PostgreSQL sink (rows and panes in
 * one transaction), the detector run over their final panes, anomalies opened, resolved and never written
 * twice, their gauges on /metrics, the query API, and the advisory lock that lets one process evaluate.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANOMALY_DEFAULTS } from '@sluice/shared/analytics';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { AnomalyDetector } from '../src/analytics/anomaly-detector.ts';
import { PANE_MS } from '../src/analytics/pane-fold.ts';
import { PaneStore } from '../src/analytics/pane-store.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { PostgresSink } from '../src/sinks/postgres/postgres-sink.ts';
import { traffic, writeThroughSink } from './support/anomaly-traffic.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const id = suffix();
const dataSchema = `an_data_${id}`;
const schema = { type: 'object', properties: { site: { type: 'string' }, temp: { type: 'number' } } };
const aggregations = [{ name: 'by_site', groupBy: ['/site'], measures: [{ field: '/temp', percentiles: false }], distinct: [] }];
// Per-group series off here (settings are honoured); the simulator's detection test covers them (bench/sim).
const anomalies = { ...ANOMALY_DEFAULTS, measureStats: [...ANOMALY_DEFAULTS.measureStats], persistence: { ...ANOMALY_DEFAULTS.persistence }, groups: false };
const spec = (name: string): DatasetVersion => ({ spec: { name, sinks: { postgres: { enabled: true } }, aggregations, anomalies }, version: 1, schema });
const watched = spec(`an_spiky_${id}`);
const clean = spec(`an_clean_${id}`);

// 160 minutes of traffic ending 20 minutes ago: gw-a ~50 rows/min with a burst of ~400 in minutes 120–123;
// gw-b ~10 rows/min until it stops at minute 140.
const T0 = Math.floor(Date.now() / PANE_MS) * PANE_MS - 180 * PANE_MS;
const minute = (m: number) => T0 + m * PANE_MS;
const iso = (m: number) => new Date(minute(m)).toISOString();

let state: Awaited<ReturnType<typeof freshState>>;
let sink: PostgresSink;
let server: TestServer;
let app: FastifyInstance;
let viewer = '';
let boundary = 0;
let detector: AnomalyDetector;

beforeAll(async () => {
  state = await freshState(dataSchema);
  sink = new PostgresSink({ connectionString: stackEnv.pgUrl, schema: dataSchema, poolSize: 2, panes: new PaneStore(state.schema) });
  const datasets = new DatasetStore(state.pool);
  for (const ds of [watched, clean]) {
    await datasets.create(ds.spec, schema);
    expect((await sink.prepare(ds)).kind).toBe('ok');
  }
  await writeThroughSink(sink, watched, traffic(watched, T0, 160, ['gw-a', 'gw-b'], (agent, m) => (agent === 'gw-a' ? (m >= 120 && m < 124 ? 400 : 50) : m < 140 ? 10 : 0), 1));
  await writeThroughSink(sink, clean, traffic(clean, T0, 160, ['gw-a', 'gw-b'], (agent) => (agent === 'gw-a' ? 50 : 10), 2));
  viewer = (await new ApiKeyStore(state.pool).create('viewer', 'anomaly viewer')).key;
  server = await testServer(state.pool, { datasets, dataSchema });
  app = server.app;
  detector = new AnomalyDetector({
    pool: state.pool,
    datasets: { list: () => Promise.resolve([watched]) },
    dataSchema,
    intervalMs: 0,
    catchUpPanes: 200,
    finalBefore: () => Promise.resolve(boundary),
  });
}, 120_000);

afterAll(async () => {
  await sink?.close();
  await server?.close();
  await state?.drop();
});

const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${viewer}` } });
const rows = async (dataset = watched.spec.name) =>
  (
    await state.pool.query<{ series_kind: string; series_key: string; window_start: Date; window_end: Date; state: string; direction: string; observed: number; expected: number; score: number; resolved_at: Date | null }>(
      'SELECT series_kind, series_key, window_start, window_end, state, direction, observed, expected, score, resolved_at FROM anomalies WHERE dataset = $1 ORDER BY series_kind, series_key, window_start',
      [dataset],
    )
  ).rows;
const openGauges = async () => {
  const text = (await get('/metrics')).body;
  return text.split('\n').filter((l) => l.startsWith('sluice_anomaly_open{') && l.includes(`dataset="${watched.spec.name}"`));
};

describe('anomaly detection over final panes', () => {
  it('opens an anomaly for the burst, per dataset and for the agent that sent it, and exports it', async () => {
    boundary = minute(126);
    const run = await detector.runOnce();
    expect(run).toMatchObject({ ran: true, opened: 2, resolved: 0 });
    const found = await rows();
    expect(found.map((r) => [r.series_kind, r.series_key, r.state, r.direction, r.window_start.toISOString(), r.window_end.toISOString()])).toEqual([
      ['agent_volume', 'gw-a', 'open', 'high', iso(120), iso(124)],
      ['volume', '', 'open', 'high', iso(120), iso(124)],
    ]);
    const volume = found.find((r) => r.series_kind === 'volume')!;
    expect(volume.observed).toBeGreaterThan(300);
    expect(volume.expected).toBeGreaterThan(50);
    expect(volume.expected).toBeLessThan(70);
    expect(await openGauges()).toEqual([
      `sluice_anomaly_open{dataset="${watched.spec.name}",kind="agent_volume",series="agent_volume:gw-a",direction="high"} 1`,
      `sluice_anomaly_open{dataset="${watched.spec.name}",kind="volume",series="volume",direction="high"} 1`,
    ]);
    expect((await get('/metrics')).body).toMatch(new RegExp(`sluice_anomaly_score\\{dataset="${watched.spec.name}",kind="volume",series="volume"\\} \\d+`));
  });

  it('resolves it once the series is back in its band for 5 panes, and finds the agent that went silent', async () => {
    boundary = minute(155);
    const run = await detector.runOnce();
    expect(run).toMatchObject({ ran: true, opened: 1, resolved: 2 });
    const found = await rows();
    expect(found.map((r) => [r.series_kind, r.series_key, r.state, r.window_start.toISOString(), r.resolved_at?.toISOString() ?? null])).toEqual([
      ['agent_silence', 'gw-b', 'open', iso(140), null],
      ['agent_volume', 'gw-a', 'resolved', iso(120), iso(129)],
      ['volume', '', 'resolved', iso(120), iso(129)],
    ]);
    expect(found[0]).toMatchObject({ direction: 'silent', observed: 0, score: 15 });
    expect(found[0]!.window_end.toISOString()).toBe(iso(155));
    expect(await openGauges()).toEqual([`sluice_anomaly_open{dataset="${watched.spec.name}",kind="agent_silence",series="agent_silence:gw-b",direction="silent"} 1`]);
  });

  it('counted every final minute of the table per agent once, for the agent series', async () => {
    const counted = await state.pool.query<{ agent_id: string; n: string }>('SELECT agent_id, sum(rows) AS n FROM anomaly_agent_minutes WHERE dataset = $1 GROUP BY 1 ORDER BY 1', [watched.spec.name]);
    const stored = await state.pool.query<{ agent_id: string; n: string }>(
      `SELECT agent_id, count(*) AS n FROM ${dataSchema}.${watched.spec.name} WHERE event_time < to_timestamp($1 / 1000.0) GROUP BY 1 ORDER BY 1`,
      [minute(155)],
    );
    expect(counted.rows).toEqual(stored.rows);
    expect(counted.rows.map((r) => r.agent_id)).toEqual(['gw-a', 'gw-b']);
  });

  it('writes the same rows when the same panes are evaluated again', async () => {
    const before = await rows();
    await state.pool.query('DELETE FROM anomaly_progress WHERE dataset = $1', [watched.spec.name]);
    expect(await detector.runOnce()).toMatchObject({ ran: true, opened: 0, resolved: 0 });
    expect(await rows()).toEqual(before);
    // Nothing new is final: nothing to do.
    expect(await detector.runOnce()).toEqual({ ran: true, changed: 0, opened: 0, resolved: 0 });
  });

  it('raises nothing on a clean dataset of the same length and rates', async () => {
    const cleanDetector = new AnomalyDetector({ pool: state.pool, datasets: { list: () => Promise.resolve([clean]) }, dataSchema, intervalMs: 0, catchUpPanes: 200, finalBefore: () => Promise.resolve(minute(160)) });
    expect(await cleanDetector.runOnce()).toMatchObject({ ran: true, changed: 0 });
    expect(await rows(clean.spec.name)).toEqual([]);
  });

  it('with the real pane finality, sees the whole dataset go quiet once its panes are final', async () => {
    const real = new AnomalyDetector({ pool: state.pool, datasets: { list: () => Promise.resolve([watched]) }, dataSchema, intervalMs: 0 });
    await real.runOnce();
    const open = (await rows()).filter((r) => r.state === 'open').map((r) => [r.series_kind, r.series_key, r.window_start.toISOString()]);
    expect(open).toEqual([
      ['agent_silence', 'gw-a', iso(160)],
      ['agent_silence', 'gw-b', iso(140)],
      ['silence', '', iso(160)],
    ]);
  });

  it('lets one process evaluate at a time (advisory lock)', async () => {
    const holder = await state.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtextextended(current_schema() || '/anomaly-detector', 0))");
      expect(await detector.runOnce()).toEqual({ ran: false, changed: 0, opened: 0, resolved: 0 });
      await holder.query("SELECT pg_advisory_unlock(hashtextextended(current_schema() || '/anomaly-detector', 0))");
      expect((await detector.runOnce()).ran).toBe(true);
    } finally {
      holder.release();
    }
  });
});

describe('GET /api/v1/analytics/{dataset}/anomalies', () => {
  const base = () => `/api/v1/analytics/${watched.spec.name}/anomalies?from=${iso(0)}&to=${iso(200)}`;

  it('answers the anomalies newest first, filtered by state, kind and series', async () => {
    const all = await get(base());
    expect(all.statusCode, all.body).toBe(200);
    const items = all.json().items as Array<Record<string, unknown>>;
    expect(items.map((a) => [a.series, a.state, a.windowStart])).toEqual([
      ['silence', 'open', iso(160)],
      ['agent_silence:gw-a', 'open', iso(160)],
      ['agent_silence:gw-b', 'open', iso(140)],
      ['volume', 'resolved', iso(120)],
      ['agent_volume:gw-a', 'resolved', iso(120)],
    ]);
    expect(items[3]).toMatchObject({ kind: 'volume', key: '', direction: 'high', windowEnd: iso(124), openedAt: iso(123), resolvedAt: iso(129), bandLow: expect.any(Number), bandHigh: expect.any(Number), score: expect.any(Number) });
    expect(all.json().nextCursor).toBeNull();
    const resolved = (await get(`${base()}&state=resolved`)).json().items as Array<{ series: string }>;
    expect(resolved.map((a) => a.series)).toEqual(['volume', 'agent_volume:gw-a']);
    expect(((await get(`${base()}&kind=agent_silence`)).json().items as unknown[]).length).toBe(2);
    const one = (await get(`${base()}&series=agent_silence:gw-b`)).json().items as Array<{ series: string }>;
    expect(one.map((a) => a.series)).toEqual(['agent_silence:gw-b']);
    // Windows that end before `from` are left out.
    expect(((await get(`/api/v1/analytics/${watched.spec.name}/anomalies?from=${iso(130)}&to=${iso(200)}`)).json().items as unknown[]).length).toBe(3);
  });

  it('pages through every anomaly exactly once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`${base()}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      seen.push(...(res.json().items as Array<{ series: string }>).map((a) => a.series));
      cursor = res.json().nextCursor as string | null;
    } while (cursor !== null);
    expect(seen).toEqual(['silence', 'agent_silence:gw-a', 'agent_silence:gw-b', 'volume', 'agent_volume:gw-a']);
  });

  it('refuses what it cannot answer', async () => {
    expect((await get(`${base()}&cursor=bm9wZQ`)).statusCode).toBe(400);
    expect((await get(`${base()}&series=nonsense:x`)).json().error.message).toMatch(/kind must be one of/);
    expect((await get(`${base()}&state=closed`)).statusCode).toBe(400);
    expect((await get(`/api/v1/analytics/${watched.spec.name}/anomalies?from=${iso(10)}&to=${iso(5)}`)).statusCode).toBe(400);
    expect((await get('/api/v1/analytics/an_missing/anomalies')).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: base() })).statusCode).toBe(401);
  });
});
