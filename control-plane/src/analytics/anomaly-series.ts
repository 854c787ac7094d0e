/**
 * The series the anomaly detector judges, read for one dataset over a range of panes (and the same range a
 * day earlier, for the seasonal baseline):
 *
 *   volume        rows per pane of the whole dataset: the panes of its first aggregation, all groups added
 *                 (each record folds into exactly one group of it); without aggregations, its PostgreSQL table
 *   agent_volume  rows per pane of each agent: the dataset's PostgreSQL table by agent_id and minute of
 *                 event_time (panes have no agent dimension), counted once per final minute into
 *                 anomaly_agent_minutes (countAgentMinutes; the table's event_time index serves the range)
 *   group_volume  rows per pane of one group of an aggregation with a groupBy (a device, a site)
 *   measure       a figure (avg, sum, min, max, count) of one measure of one group of an aggregation, per pane
 *
 * Group, measure and agent series are capped at `maxSeries`, the ones with the most rows first.
 */
import type pg from 'pg';
import { ANOMALY_DEFAULTS, type AnomalySettings, type MeasureStat } from '@sluice/shared/analytics';
import type { DatasetSpec } from '@sluice/shared/dataset';
import { quoteIdent } from '../sinks/postgres/columns.ts';
import type { SeriesData } from './anomaly-rules.ts';
import { compileAggregations, PANE_MS, type MeasureState, type PaneState } from './pane-fold.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** [from, to) ranges of pane starts, in ms. */
export type PaneRange = readonly [number, number];

interface Builder {
  kind: SeriesData['kind'];
  key: string;
  counts: boolean;
  values: Map<number, number>;
  rows: number;
}

function builder(map: Map<string, Builder>, kind: SeriesData['kind'], key: string, counts: boolean): Builder {
  const id = `${kind}\u0000${key}`;
  let b = map.get(id);
  if (!b) {
    b = { kind, key, counts, values: new Map(), rows: 0 };
    map.set(id, b);
  }
  return b;
}

function statOf(m: MeasureState, stat: MeasureStat): number | undefined {
  if (m.n === 0) return undefined;
  switch (stat) {
    case 'avg':
      return m.sum / m.n;
    case 'sum':
      return m.sum;
    case 'min':
      return m.min ?? undefined;
    case 'max':
      return m.max ?? undefined;
    case 'count':
      return m.n;
  }
}

const rangeSql = (first: number) => `(pane_start >= to_timestamp($${first} / 1000.0) AND pane_start < to_timestamp($${first + 1} / 1000.0))`;

export async function readSeries(db: Queryable, spec: DatasetSpec, dataSchema: string, ranges: readonly PaneRange[]): Promise<SeriesData[]> {
  const settings: AnomalySettings = spec.anomalies ?? {};
  const stats = settings.measureStats ?? ANOMALY_DEFAULTS.measureStats;
  const maxSeries = settings.maxSeries ?? ANOMALY_DEFAULTS.maxSeries;
  const series = new Map<string, Builder>();
  const capped = new Map<string, Builder>();
  const aggregations = compileAggregations(spec);
  const first = aggregations[0];
  const wantMeasures = stats.length > 0 && aggregations.some((a) => a.measures.length > 0);
  const wantGroups = settings.groups !== false && aggregations.some((a) => a.groupBy.length > 0);
  if (first && (settings.volume !== false || wantMeasures || wantGroups)) {
    const params: unknown[] = [spec.name, aggregations.map((a) => a.name), aggregations.map((a) => a.definition)];
    const where = ranges.map((r) => {
      params.push(r[0], r[1]);
      return rangeSql(params.length - 1);
    });
    const panes = await db.query<{ ms: string; aggregation: string; group_key: string; rows: string; state: PaneState | null }>(
      `SELECT (extract(epoch FROM pane_start) * 1000)::bigint AS ms, p.aggregation, group_key, rows, ${wantMeasures ? 'state' : 'NULL AS state'}
         FROM analytics_panes p JOIN unnest($2::text[], $3::text[]) AS a(name, definition) ON p.aggregation = a.name AND p.definition = a.definition
        WHERE dataset = $1 AND (${where.join(' OR ')})`,
      params,
    );
    for (const r of panes.rows) {
      const t = Number(r.ms);
      const rows = Number(r.rows);
      if (r.aggregation === first.name && settings.volume !== false) {
        const b = builder(series, 'volume', '', true);
        b.values.set(t, (b.values.get(t) ?? 0) + rows);
        b.rows += rows;
      }
      const a = aggregations.find((x) => x.name === r.aggregation)!;
      if (wantGroups && a.groupBy.length > 0) {
        const b = builder(capped, 'group_volume', `${a.name}|${r.group_key}`, true);
        b.values.set(t, rows);
        b.rows += rows;
      }
      if (!wantMeasures || !r.state) continue;
      a.measures.forEach((m, i) => {
        const state = r.state!.m[i];
        if (!state) return;
        for (const stat of stats) {
          const v = statOf(state, stat);
          if (v === undefined) continue;
          const b = builder(capped, 'measure', `${a.name}|${m.field}|${stat}|${r.group_key}`, false);
          b.values.set(t, v);
          b.rows += state.n;
        }
      });
    }
  }
  if (agentTable(spec, dataSchema) !== undefined) {
    const params: unknown[] = [spec.name];
    const where = ranges.map((r) => {
      params.push(r[0], r[1]);
      return `(minute >= to_timestamp($${params.length - 1} / 1000.0) AND minute < to_timestamp($${params.length} / 1000.0))`;
    });
    const counts = await db.query<{ agent_id: string; ms: string; n: string }>(
      `SELECT agent_id, (extract(epoch FROM minute) * 1000)::bigint AS ms, rows AS n FROM anomaly_agent_minutes WHERE dataset = $1 AND (${where.join(' OR ')})`,
      params,
    );
    for (const r of counts.rows) {
      const t = Number(r.ms);
      const n = Number(r.n);
      if (settings.agents !== false) {
        const b = builder(capped, 'agent_volume', r.agent_id, true);
        b.values.set(t, n);
        b.rows += n;
      }
      if (!first && settings.volume !== false) {
        const b = builder(series, 'volume', '', true);
        b.values.set(t, (b.values.get(t) ?? 0) + n);
        b.rows += n;
      }
    }
  }
  const kept = [...capped.values()].sort((a, b) => b.rows - a.rows || (a.key < b.key ? -1 : 1)).slice(0, maxSeries);
  return [...series.values(), ...kept].map((b) => ({ kind: b.kind, key: b.key, counts: b.counts, values: b.values, firstSeen: b.values.size === 0 ? undefined : Math.min(...b.values.keys()) }));
}

/** The dataset's PostgreSQL table, when its per-agent counts are wanted (agent series, or the volume of a dataset without aggregations). */
export function agentTable(spec: DatasetSpec, dataSchema: string): string | undefined {
  const settings: AnomalySettings = spec.anomalies ?? {};
  if (spec.sinks.postgres?.enabled !== true) return undefined;
  const wanted = settings.agents !== false || ((spec.aggregations ?? []).length === 0 && settings.volume !== false);
  return wanted ? `${quoteIdent(dataSchema)}.${quoteIdent(spec.sinks.postgres.table ?? spec.name)}` : undefined;
}

/** Counts the table's rows per agent and minute of event time in [from, to) into anomaly_agent_minutes. */
export async function countAgentMinutes(db: Queryable, spec: DatasetSpec, table: string, from: number, to: number): Promise<void> {
  if (from >= to || !(await db.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table])).rows[0]?.t) return;
  await db.query(
    `INSERT INTO anomaly_agent_minutes (dataset, minute, agent_id, rows)
     SELECT $1, date_trunc('minute', event_time), agent_id, count(*) FROM ${table}
      WHERE event_time >= to_timestamp($2 / 1000.0) AND event_time < to_timestamp($3 / 1000.0) GROUP BY 2, 3
     ON CONFLICT (dataset, minute, agent_id) DO UPDATE SET rows = EXCLUDED.rows`,
    [spec.name, from, to],
  );
}

/** Pane start of `ms`'s minute. */
export function paneOf(ms: number): number {
  return Math.floor(ms / PANE_MS) * PANE_MS;
}
