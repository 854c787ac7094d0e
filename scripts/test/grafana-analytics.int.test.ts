/**
 * The Grafana dashboards without Grafana (it cannot run here): both parse, every panel names a provisioned
 * datasource, and every SQL query of the analytics dashboard (panels, annotations, variables) runs against
 * the real PostgreSQL schema, with Grafana's macros and variables replaced by concrete SQL the way Grafana
 * would expand them. The data is the simulator's IoT scenario folded into panes by the real PostgreSQL sink,
 * plus an anomaly as the detector stores it, so the answers are checked too, not only the syntax.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DatasetStore } from '../../control-plane/src/datasets/dataset-store.ts';
import { freshState, stackEnv, suffix } from '../../control-plane/test/support/state.ts';
import { runSimulation } from '../../bench/sim/simulator.ts';
import { PostgresSinkTarget } from '../../bench/sim/testing/postgres-sink-target.ts';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');
const DASHBOARDS = '../../deploy/grafana/dashboards/';

interface Target {
  refId: string;
  rawSql?: string;
  expr?: string;
  datasource?: { uid: string };
}
interface Dashboard {
  uid: string;
  panels: Array<{
    id: number;
    title: string;
    datasource: { uid: string };
    targets: Target[];
    gridPos: { x: number; y: number; w: number; h: number };
  }>;
  templating?: { list: Array<{ name: string; type: string; query: string; datasource?: { uid: string } }> };
  annotations?: { list: Array<{ name: string; datasource?: { uid: string }; target?: Target }> };
}

const dashboards = readdirSync(fileURLToPath(new URL(DASHBOARDS, import.meta.url)))
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, dashboard: JSON.parse(read(`${DASHBOARDS}${f}`)) as Dashboard }));
const analytics = dashboards.find((d) => d.dashboard.uid === 'sluice-analytics')!.dashboard;
const provisioned = readdirSync(
  fileURLToPath(new URL('../../deploy/grafana/provisioning/datasources/', import.meta.url)),
).flatMap(
  (f) =>
    (
      parse(read(`../../deploy/grafana/provisioning/datasources/${f}`)) as {
        datasources: Array<{ uid: string; type: string }>;
      }
    ).datasources,
);

describe('the Grafana dashboards', () => {
  it('parse, have unique panel ids, and use only provisioned datasources', () => {
    expect(dashboards.map((d) => d.dashboard.uid).sort()).toEqual(['sluice-analytics', 'sluice-pipeline']);
    const uids = new Set(provisioned.map((d) => d.uid));
    expect(provisioned.find((d) => d.uid === 'sluice-postgres')?.type).toBe('grafana-postgresql-datasource');
    for (const { file, dashboard } of dashboards) {
      const ids = dashboard.panels.map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of dashboard.panels) {
        expect(uids, `${file}: ${p.title}`).toContain(p.datasource.uid);
        for (const t of p.targets)
          expect(uids, `${file}: ${p.title}`).toContain(t.datasource?.uid ?? p.datasource.uid);
      }
    }
  });

  it('lays the analytics panels out without overlap on the 24-column grid', () => {
    const cells = new Set<string>();
    for (const p of analytics.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

// ---- every query against PostgreSQL ----

const MINUTE = 60_000;
const START = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;
const example = JSON.parse(read('../../bench/sim/examples/iot-readings.dataset.json')) as Record<
  string,
  unknown
> & { schema: Record<string, unknown> };
const dataSchema = `gd_data_${suffix()}`;
let state: Awaited<ReturnType<typeof freshState>>;
let target: PostgresSinkTarget | undefined;

beforeAll(async () => {
  state = await freshState(dataSchema);
  const { schema, ...spec } = example;
  const datasets = new DatasetStore(state.pool);
  await datasets.create(
    { ...(spec as { name: string; sinks: Record<string, never> }), name: 'iot_readings' },
    schema,
  );
  const dataset = (await datasets.latest('iot_readings'))!;
  const sinkTarget = await PostgresSinkTarget.open({
    connectionString: stackEnv.pgUrl,
    dataSchema,
    stateSchema: state.schema,
    dataset,
  });
  target = sinkTarget;
  // 30 minutes of event time (a 0.2-second run at 9,000x): 3,000 readings of 50 devices on two sites.
  const run = await runSimulation(
    {
      scenario: 'iot',
      seed: 11,
      entities: 50,
      ratePerSecond: 15_000,
      count: 3000,
      startMs: START,
      timeScale: 9000,
      skewMs: 0,
      lateFraction: 0,
      lateByMs: 0,
      anomalies: [],
    },
    { target: sinkTarget },
  );
  expect(run.accepted).toBe(3000);
  await state.pool.query(
    `INSERT INTO anomalies (dataset, series_kind, series_key, window_start, window_end, direction, observed, expected, band_low, band_high, score, state, opened_at)
     VALUES ('iot_readings', 'volume', '', $1, $2, 'high', 480, 110, 90, 130, 14.2, 'open', $2),
            ('iot_readings', 'measure', 'by_site|/temperature|avg|["site-001"]', $2, $3, 'low', 12.5, 21.4, 20.8, 22.0, 6.1, 'resolved', $3)`,
    [new Date(START + 10 * MINUTE), new Date(START + 12 * MINUTE), new Date(START + 14 * MINUTE)],
  );
});

afterAll(async () => {
  await target?.close();
  await state?.drop();
});

const FROM = new Date(START - 5 * MINUTE).toISOString();
const TO = new Date(START + 40 * MINUTE).toISOString();

/** What Grafana sends PostgreSQL for a query: macros expanded, variables replaced, our schema for `sluice`. */
function expand(sql: string, vars: Record<string, string>): string {
  const out = sql
    .replace(
      /\$__timeFilter\(([^)]+)\)/g,
      (_m, column: string) => `${column.trim()} BETWEEN '${FROM}' AND '${TO}'`,
    )
    .replace(/\$__timeFrom\(\)/g, `'${FROM}'`)
    .replace(/\$__timeTo\(\)/g, `'${TO}'`)
    .replace(/\$(\w+)/g, (m, name: string) => vars[name] ?? m)
    .replace(/\bsluice\.(analytics_panes|anomalies|datasets)\b/g, `${state.schema}.$1`);
  expect(out, `unexpanded in: ${out}`).not.toMatch(/\$\w|\bsluice\./);
  return out;
}

const vars = (aggregation: string, measure = '0'): Record<string, string> => ({
  dataset: 'iot_readings',
  aggregation,
  measure,
  window: '5',
});

async function run(sql: string, v: Record<string, string>): Promise<Array<Record<string, unknown>>> {
  return (await state.pool.query(expand(sql, v))).rows as Array<Record<string, unknown>>;
}

/** The query of the panel titled `title` (or, failing that, whose title starts with it). */
const panelSql = (title: string): string =>
  (analytics.panels.find((p) => p.title === title) ??
    analytics.panels.find((p) => p.title.startsWith(title)))!.targets[0]!.rawSql!;

describe('the analytics dashboard against PostgreSQL', () => {
  it('runs every query of every panel, annotation and variable', async () => {
    const queries = [
      ...analytics.panels.flatMap((p) => p.targets.map((t) => [p.title, t.rawSql] as const)),
      ...(analytics.annotations?.list ?? [])
        .filter((a) => a.target?.rawSql)
        .map((a) => [`annotation ${a.name}`, a.target!.rawSql] as const),
      ...(analytics.templating?.list ?? [])
        .filter((v) => v.type === 'query')
        .map((v) => [`variable ${v.name}`, v.query] as const),
    ];
    expect(queries.length).toBeGreaterThanOrEqual(14);
    for (const [what, sql] of queries) {
      expect(sql, what).toBeTypeOf('string');
      for (const aggregation of ['volume', 'by_site', 'by_device']) {
        await expect(run(sql!, vars(aggregation)), `${what} (${aggregation})`).resolves.toBeInstanceOf(Array);
      }
    }
  });

  it('answers what the panes and anomalies hold', async () => {
    expect(await run(panelSql('Records in range'), vars('volume'))).toEqual([{ records: '3000' }]);
    expect(await run(panelSql('Open anomalies'), vars('volume'))).toEqual([{ open: '1' }]);
    const variable = (name: string) => analytics.templating!.list.find((v) => v.name === name)!.query;
    expect(await run(variable('dataset'), vars('volume'))).toEqual([{ dataset: 'iot_readings' }]);
    expect((await run(variable('aggregation'), vars('volume'))).map((r) => r.aggregation)).toEqual([
      'by_device',
      'by_site',
      'volume',
    ]);
    expect(await run(variable('measure'), vars('by_site'))).toEqual([
      { __value: '0', __text: '/temperature' },
      { __value: '1', __text: '/humidity' },
    ]);

    // Six 5-minute windows × two sites, each window's records summing to all of them.
    const perWindow = await run(panelSql('Records per'), vars('by_site'));
    expect(new Set(perWindow.map((r) => r.metric))).toEqual(new Set(['site-000', 'site-001']));
    expect(perWindow.reduce((sum, r) => sum + Number(r.records), 0)).toBe(3000);
    expect(new Set(perWindow.map((r) => (r.time as Date).getTime() % (5 * MINUTE)))).toEqual(new Set([0]));
    const volume = await run(panelSql('Records per'), vars('volume'));
    expect(new Set(volume.map((r) => r.metric))).toEqual(new Set(['all records']));

    // Temperature averages of plausible air; min ≤ avg ≤ max.
    const avg = await run(panelSql('Measure average'), vars('by_site'));
    expect(avg.length).toBeGreaterThanOrEqual(12);
    for (const r of avg) expect(r.avg as number).toBeGreaterThan(0);
    for (const r of avg) expect(r.avg as number).toBeLessThan(40);
    const extremes = await run(panelSql('Measure min and max'), vars('by_site'));
    for (const r of extremes) expect(r.min as number).toBeLessThanOrEqual(r.max as number);

    const table = await run(panelSql('Anomalies'), vars('volume'));
    expect(table.map((r) => [r.kind, r.series, r.state, r.direction])).toEqual([
      ['measure', 'by_site|/temperature|avg|["site-001"]', 'resolved', 'low'],
      ['volume', '', 'open', 'high'],
    ]);
    const annotation = analytics.annotations!.list.find((a) => a.name === 'Anomalies')!.target!.rawSql!;
    expect((await run(annotation, vars('volume'))).map((r) => r.text).sort()).toEqual([
      'measure by_site|/temperature|avg|["site-001"]: low, observed 12.50 against 20.80–22.00',
      'volume: high, observed 480.00 against 90.00–130.00',
    ]);
    expect(await run(panelSql('Anomalies by kind'), vars('volume'))).toEqual([
      { kind: 'measure', open: '0', resolved: '1' },
      { kind: 'volume', open: '1', resolved: '0' },
    ]);
  });
});
