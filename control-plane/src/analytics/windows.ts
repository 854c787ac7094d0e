/**
 * Windows computed from panes when asked (docs/analytics.md): a window of `sizeMs` starting every `hopMs`
 * (tumbling: hop = size; hopping: hop < size; rolling: one window ending at `to`) is the merge of the 1-minute
 * panes inside it. Windows are aligned to the epoch, so the same question always gets the same windows.
 */
import type pg from 'pg';
import type { DatasetSpec } from '@sluice/shared/dataset';
import { quantile } from './ddsketch.ts';
import { estimateDistinct } from './hyperloglog.ts';
import { compileAggregations, mergeStates, PANE_MS, type CompiledAggregation, type PaneState } from './pane-fold.ts';

export interface StoredPane {
  paneStart: number;
  groupKey: string;
  group: Record<string, unknown>;
  rows: number;
  /** Of `rows`, folded after the pane was final (finality.ts). */
  lateRows: number;
  state: PaneState;
}

export interface MeasureFigures {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  avg: number | null;
  p50?: number | null;
  p95?: number | null;
  p99?: number | null;
}

export interface WindowFigures {
  start: string;
  end: string;
  group: Record<string, unknown>;
  count: number;
  lateRows: number;
  /** Every pane of the window is final (set by the aggregates query). */
  final?: boolean;
  measures: Record<string, MeasureFigures>;
  distinct: Record<string, number>;
}

export function findAggregation(spec: DatasetSpec, name: string): CompiledAggregation | undefined {
  return compileAggregations(spec).find((a) => a.name === name);
}

/** The panes of one aggregation (one group, if given) with pane_start in [fromMs, toMs), in (pane, group) order; `db` resolves the state schema. */
export async function readPanes(db: pg.Pool | pg.ClientBase, dataset: string, a: CompiledAggregation, fromMs: number, toMs: number, groupKey?: string): Promise<StoredPane[]> {
  const res = await db.query<{ ms: string; group_key: string; group_values: Record<string, unknown>; rows: string; late_rows: string; state: PaneState }>(
    `SELECT (extract(epoch FROM pane_start) * 1000)::bigint AS ms, group_key, group_values, rows, late_rows, state FROM analytics_panes ` +
      `WHERE dataset = $1 AND aggregation = $2 AND definition = $3 AND pane_start >= to_timestamp($4 / 1000.0) AND pane_start < to_timestamp($5 / 1000.0) ` +
      `AND ($6::text IS NULL OR group_key = $6) ORDER BY pane_start, group_key`,
    [dataset, a.name, a.definition, fromMs, toMs, groupKey ?? null],
  );
  return res.rows.map((r) => ({ paneStart: Number(r.ms), groupKey: r.group_key, group: r.group_values, rows: Number(r.rows), lateRows: Number(r.late_rows), state: r.state }));
}

/**
 * Windows of `sizeMs` every `hopMs` (both whole minutes) whose start lies in [fromMs, toMs), per group that
 * has rows in it; in (start, group) order.
 */
export function computeWindows(a: CompiledAggregation, panes: readonly StoredPane[], fromMs: number, toMs: number, sizeMs: number, hopMs: number): WindowFigures[] {
  if (sizeMs % PANE_MS !== 0 || hopMs % PANE_MS !== 0 || sizeMs <= 0 || hopMs <= 0) throw new RangeError('window size and hop are whole minutes');
  const starts: number[] = [];
  for (let start = Math.ceil(fromMs / hopMs) * hopMs; start < toMs; start += hopMs) starts.push(start);
  return windowsAt(a, panes, starts, sizeMs);
}

function windowsAt(a: CompiledAggregation, panes: readonly StoredPane[], starts: readonly number[], sizeMs: number): WindowFigures[] {
  const out: WindowFigures[] = [];
  for (const start of starts) {
    const byGroup = new Map<string, StoredPane[]>();
    for (const p of panes) {
      if (p.paneStart < start || p.paneStart >= start + sizeMs) continue;
      const list = byGroup.get(p.groupKey);
      if (list) list.push(p);
      else byGroup.set(p.groupKey, [p]);
    }
    for (const key of [...byGroup.keys()].sort()) out.push(figures(a, byGroup.get(key)!, start, start + sizeMs));
  }
  return out;
}

/** One window ending at `endMs` (the current minute included), per group. */
export function rollingWindow(a: CompiledAggregation, panes: readonly StoredPane[], endMs: number, sizeMs: number): WindowFigures[] {
  const lastPane = Math.floor(endMs / PANE_MS) * PANE_MS;
  return windowsAt(a, panes, [lastPane + PANE_MS - sizeMs], sizeMs);
}

function figures(a: CompiledAggregation, panes: readonly StoredPane[], start: number, end: number): WindowFigures {
  const state = mergeStates(a, panes.map((p) => p.state));
  const measures: Record<string, MeasureFigures> = {};
  a.measures.forEach((m, i) => {
    const s = state.m[i]!;
    measures[m.field] = {
      count: s.n,
      sum: s.sum,
      min: s.min,
      max: s.max,
      avg: s.n === 0 ? null : s.sum / s.n,
      ...(s.q ? { p50: quantile(s.q, 0.5), p95: quantile(s.q, 0.95), p99: quantile(s.q, 0.99) } : {}),
    };
  });
  const distinct = Object.fromEntries(a.distinct.map((d, i) => [d.field, estimateDistinct(state.d[i]!)]));
  return {
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    group: panes[0]!.group,
    count: panes.reduce((n, p) => n + p.rows, 0),
    lateRows: panes.reduce((n, p) => n + p.lateRows, 0),
    measures,
    distinct,
  };
}
