/**
 * The anomalies sluice-sim injects are the ones the detector finds, and a clean run of the same length raises
 * none: three hours of the IoT scenario (100 devices, 200 readings a minute of event time, the daily cycle)
 * made by the real simulator on a clock that does not wait, written through the real PostgreSQL sink (rows
 * and panes in one transaction), then the detector over the final panes with the dataset's default settings.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '@sluice/shared/clock';
import type { DatasetSpec, DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { AnomalyDetector } from '../../control-plane/src/analytics/anomaly-detector.ts';
import { PaneStore } from '../../control-plane/src/analytics/pane-store.ts';
import { PostgresSink } from '../../control-plane/src/sinks/postgres/postgres-sink.ts';
import { writeThroughSink } from '../../control-plane/test/support/anomaly-traffic.ts';
import { freshState, stackEnv, suffix } from '../../control-plane/test/support/state.ts';
import type { AnomalySpec } from './anomalies.ts';
import type { SimEvent } from './event-stream.ts';
import { runSimulation, type SimulationOptions } from './simulator.ts';
import type { SimTarget } from './targets/target.ts';

const MINUTE = 60_000;
const example = JSON.parse(
  readFileSync(new URL('./examples/iot-readings.dataset.json', import.meta.url), 'utf8'),
) as DatasetSpec & { schema: Record<string, unknown> };
const id = suffix();
const dataSchema = `sa_data_${id}`;
// Three hours of event time ending 20 minutes ago, to the minute.
const START = Math.floor(Date.now() / MINUTE) * MINUTE - 200 * MINUTE;
const at = (minutes: number) => START + minutes * MINUTE;
const iso = (minutes: number) => new Date(at(minutes)).toISOString();

const injected: AnomalySpec[] = [
  { kind: 'spike', at: '2h', duration: '10m', factor: 4 },
  { kind: 'silence', at: '2h20m', duration: '20m', target: 'dev-00003' },
  { kind: 'shift', at: '2h40m', duration: '15m', target: 'dev-00007', field: 'temperature', delta: 8 },
];

/** The simulator's events, kept as the envelopes an agent would ship. */
class CollectingTarget implements SimTarget {
  readonly name = 'stdout' as const;
  readonly envelopes: Envelope[] = [];
  readonly dataset: string;
  constructor(dataset: string) {
    this.dataset = dataset;
  }
  send(
    events: readonly SimEvent[],
    batchKey: string,
  ): Promise<{ accepted: number; rejected: number; reasons: string[] }> {
    for (const e of events) {
      this.envelopes.push({
        id: `${batchKey}:${e.seq}`,
        dataset: this.dataset,
        agentId: 'sim-gw',
        source: { id: 'sim', kind: 'http-push' },
        eventTime: new Date(e.eventTimeMs).toISOString(),
        ingestTime: new Date(e.eventTimeMs).toISOString(),
        schemaVersion: 1,
        payload: e.payload,
      });
    }
    return Promise.resolve({ accepted: events.length, rejected: 0, reasons: [] });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Run time that passes as soon as it is waited for: three hours of event time in a moment. */
function instantClock(): Clock {
  let now = 0;
  return {
    now: () => now,
    sleep: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  };
}

let state: Awaited<ReturnType<typeof freshState>>;
let sink: PostgresSink;

async function simulate(name: string, anomalies: readonly AnomalySpec[]): Promise<DatasetVersion> {
  const { schema, ...spec } = example;
  const ds: DatasetVersion = { spec: { ...spec, name }, version: 1, schema };
  expect((await sink.prepare(ds)).kind).toBe('ok');
  const options: SimulationOptions = {
    scenario: 'iot',
    seed: 42,
    entities: 100,
    ratePerSecond: 200,
    durationMs: 180_000,
    startMs: START,
    timeScale: 60,
    skewMs: 0,
    lateFraction: 0,
    lateByMs: 0,
    anomalies,
    dataset: name,
  };
  const target = new CollectingTarget(name);
  const summary = await runSimulation(options, { target, clock: instantClock() });
  expect(summary.error).toBeNull();
  await writeThroughSink(sink, ds, target.envelopes);
  return ds;
}

async function detect(ds: DatasetVersion) {
  // Panes final up to the end of the run: what follows (nothing sent) is another story (silence).
  const detector = new AnomalyDetector({
    pool: state.pool,
    datasets: { list: () => Promise.resolve([ds]) },
    dataSchema,
    intervalMs: 0,
    catchUpPanes: 200,
    finalBefore: () => Promise.resolve(at(180)),
  });
  expect((await detector.runOnce()).ran).toBe(true);
  const found = await state.pool.query<{
    series_kind: string;
    series_key: string;
    direction: string;
    window_start: Date;
    window_end: Date;
    state: string;
    resolved_at: Date | null;
  }>(
    'SELECT series_kind, series_key, direction, window_start, window_end, state, resolved_at FROM anomalies WHERE dataset = $1 ORDER BY series_kind, series_key',
    [ds.spec.name],
  );
  return found.rows.map((r) => ({
    series: r.series_key === '' ? r.series_kind : `${r.series_kind}:${r.series_key}`,
    direction: r.direction,
    start: r.window_start.toISOString(),
    end: r.window_end.toISOString(),
    state: r.state,
    resolvedAt: r.resolved_at?.toISOString() ?? null,
  }));
}

beforeAll(async () => {
  state = await freshState(dataSchema);
  sink = new PostgresSink({
    connectionString: stackEnv.pgUrl,
    schema: dataSchema,
    poolSize: 2,
    panes: new PaneStore(state.schema),
  });
}, 30_000);

afterAll(async () => {
  await sink?.close();
  await state?.drop();
});

describe('sluice-sim anomalies → the detector', () => {
  it('finds the spike, the silent device and the shifted device, and nothing else', async () => {
    const found = await detect(await simulate(`sa_injected_${id}`, injected));
    const bySeries = new Map(found.map((a) => [a.series, a]));
    // The spike: the dataset, the agent and every site, each over the spike's minutes.
    const spiked = [
      'volume',
      'agent_volume:sim-gw',
      ...[0, 1, 2, 3].map((s) => `group_volume:by_site|["site-00${s}"]`),
    ];
    for (const series of spiked) {
      const a = bySeries.get(series);
      expect(a, series).toMatchObject({ direction: 'high', state: 'resolved', start: iso(120) });
      expect(a!.end <= iso(130), series).toBe(true);
    }
    // The silent device: from its first quiet minute until its first reading again.
    expect(bySeries.get('group_silence:by_device|["dev-00003"]')).toEqual({
      series: 'group_silence:by_device|["dev-00003"]',
      direction: 'silent',
      start: iso(140),
      end: iso(160),
      state: 'resolved',
      resolvedAt: iso(161),
    });
    // The shifted device's temperature.
    expect(bySeries.get('measure:by_device|/temperature|avg|["dev-00007"]')).toMatchObject({
      direction: 'high',
      start: iso(160),
      end: iso(175),
    });
    expect([...bySeries.keys()].sort()).toEqual(
      [
        ...spiked,
        'group_silence:by_device|["dev-00003"]',
        'measure:by_device|/temperature|avg|["dev-00007"]',
      ].sort(),
    );
  }, 120_000);

  it('raises none on a clean run of the same length', async () => {
    expect(await detect(await simulate(`sa_clean_${id}`, []))).toEqual([]);
  }, 120_000);
});
