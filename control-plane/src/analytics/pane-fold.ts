/**
 * Rows → 1-minute pane deltas, and pane states merged: the arithmetic of the aggregates, free of any store.
 * A pane is (aggregation, group, minute of event time); its state holds per measure count/sum/min/max and an
 * optional DDSketch, and per distinct field a HyperLogLog. Every part merges associatively and commutatively,
 * so a window is the merge of its panes whatever order they were filled in (docs/analytics.md).
 *
 * An aggregation is identified by its name and a hash of its definition: a changed definition starts new panes
 * instead of mixing two meanings in one (the measure arrays are positional).
 */
import { createHash } from 'node:crypto';
import type { AggregationSpec } from '@sluice/shared/analytics';
import { canonicalJson } from '@sluice/shared/canonical-json';
import type { DatasetSpec } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { atPointer, parsePointer } from '@sluice/shared/json-pointer';
import { addValue, emptySketch, mergeSketch, type SketchState } from './ddsketch.ts';
import { addToRegisters, hllRegisters, hllState, mergeHll, newRegisters, type HllState } from './hyperloglog.ts';

export const PANE_MS = 60_000;

export interface CompiledAggregation {
  name: string;
  /** Hash of the definition (group-by, measures, distinct). */
  definition: string;
  groupBy: ReadonlyArray<{ field: string; path: string[] }>;
  measures: ReadonlyArray<{ field: string; path: string[]; percentiles: boolean }>;
  distinct: ReadonlyArray<{ field: string; path: string[] }>;
}

export interface MeasureState {
  /** Rows that had a number in the field. */
  n: number;
  sum: number;
  min: number | null;
  max: number | null;
  q?: SketchState;
}

export interface PaneState {
  m: MeasureState[];
  d: HllState[];
}

export interface PaneDelta {
  aggregation: string;
  definition: string;
  /** JSON array of the group-by values, in declared order: the pane's group within its aggregation. */
  groupKey: string;
  /** The group as `{field: value}`, for answers. */
  group: Record<string, unknown>;
  /** Start of the pane's minute, ms since the epoch. */
  paneStart: number;
  rows: number;
  state: PaneState;
}

const compiled = new WeakMap<DatasetSpec, CompiledAggregation[]>();

export function compileAggregations(spec: DatasetSpec): CompiledAggregation[] {
  let out = compiled.get(spec);
  if (!out) {
    out = (spec.aggregations ?? []).map(compileAggregation);
    compiled.set(spec, out);
  }
  return out;
}

export function compileAggregation(a: AggregationSpec): CompiledAggregation {
  const groupBy = (a.groupBy ?? []).map((field) => ({ field, path: parsePointer(field) }));
  const measures = (a.measures ?? []).map((m) => ({ field: m.field, path: parsePointer(m.field), percentiles: m.percentiles === true }));
  const distinct = (a.distinct ?? []).map((field) => ({ field, path: parsePointer(field) }));
  const shape = { groupBy: groupBy.map((g) => g.field), measures: measures.map((m) => [m.field, m.percentiles]), distinct: distinct.map((d) => d.field) };
  const definition = createHash('sha256').update(canonicalJson(shape)).digest('hex').slice(0, 16);
  return { name: a.name, definition, groupBy, measures, distinct };
}

export function emptyState(a: CompiledAggregation): PaneState {
  return {
    m: a.measures.map((m) => ({ n: 0, sum: 0, min: null, max: null, ...(m.percentiles ? { q: emptySketch() } : {}) })),
    d: a.distinct.map(() => ({ s: {} })),
  };
}

/** A group-by value as it is grouped and shown: scalars as they are, anything else as canonical JSON text. */
function groupValue(value: unknown): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return canonicalJson(value);
}

/** A measure's number: a JSON number, or a string holding one (CSV rows arrive as text); else none. */
function measureValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function distinctValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? `s${value}` : `j${canonicalJson(value)}`;
}

interface Accumulator extends PaneDelta {
  registers: Uint8Array[];
}

/**
 * Folds records into pane deltas for each aggregation, ordered by (pane, aggregation, group): every writer
 * takes pane rows in this order, so two transactions folding overlapping panes never deadlock.
 */
export function foldRecords(aggregations: readonly CompiledAggregation[], records: Iterable<Envelope>): PaneDelta[] {
  const panes = new Map<string, Accumulator>();
  for (const e of records) {
    const at = Date.parse(e.eventTime);
    if (!Number.isFinite(at)) continue;
    const paneStart = Math.floor(at / PANE_MS) * PANE_MS;
    for (const a of aggregations) {
      const values = a.groupBy.map((g) => groupValue(atPointer(e.payload, g.path)));
      const groupKey = JSON.stringify(values);
      const key = `${paneStart}\u0000${a.name}\u0000${groupKey}`;
      let pane = panes.get(key);
      if (!pane) {
        const group = Object.fromEntries(a.groupBy.map((g, i) => [g.field, values[i]]));
        pane = { aggregation: a.name, definition: a.definition, groupKey, group, paneStart, rows: 0, state: emptyState(a), registers: a.distinct.map(() => newRegisters()) };
        panes.set(key, pane);
      }
      pane.rows++;
      a.measures.forEach((m, i) => {
        const v = measureValue(atPointer(e.payload, m.path));
        if (v === undefined) return;
        const s = pane.state.m[i]!;
        s.n++;
        s.sum += v;
        s.min = s.min === null ? v : Math.min(s.min, v);
        s.max = s.max === null ? v : Math.max(s.max, v);
        if (s.q) addValue(s.q, v);
      });
      a.distinct.forEach((d, i) => {
        const v = distinctValue(atPointer(e.payload, d.path));
        if (v !== undefined) addToRegisters(pane.registers[i]!, v);
      });
    }
  }
  return [...panes.values()]
    .map(({ registers, ...delta }) => ({ ...delta, state: { ...delta.state, d: registers.map(hllState) } }))
    .sort(comparePanes);
}

export function comparePanes(a: PaneDelta, b: PaneDelta): number {
  if (a.paneStart !== b.paneStart) return a.paneStart - b.paneStart;
  if (a.aggregation !== b.aggregation) return a.aggregation < b.aggregation ? -1 : 1;
  return a.groupKey < b.groupKey ? -1 : a.groupKey > b.groupKey ? 1 : 0;
}

/** a ⊕ b as a new state (neither is changed). States of one definition have the same shape. */
export function mergeState(a: PaneState, b: PaneState): PaneState {
  return {
    m: a.m.map((x, i) => {
      const y = b.m[i];
      if (!y) return x;
      const q = x.q || y.q ? mergeSketch(mergeSketch(emptySketch(), x.q ?? emptySketch()), y.q ?? emptySketch()) : undefined;
      return {
        n: x.n + y.n,
        sum: x.sum + y.sum,
        min: x.min === null ? y.min : y.min === null ? x.min : Math.min(x.min, y.min),
        max: x.max === null ? y.max : y.max === null ? x.max : Math.max(x.max, y.max),
        ...(q ? { q } : {}),
      };
    }),
    d: a.d.map((x, i) => (b.d[i] ? mergeHll(x, b.d[i]) : x)),
  };
}

/** Merges many states at once (a window of panes): registers are combined once, not per pane. */
export function mergeStates(a: CompiledAggregation, states: readonly PaneState[]): PaneState {
  const out = emptyState(a);
  const registers = a.distinct.map(() => newRegisters());
  for (const s of states) {
    const m = mergeState({ m: out.m, d: [] }, { m: s.m, d: [] }).m;
    out.m = m;
    s.d.forEach((h, i) => {
      const r = registers[i];
      if (!r) return;
      const add = hllRegisters(h);
      for (let j = 0; j < r.length; j++) if (add[j]! > r[j]!) r[j] = add[j]!;
    });
  }
  out.d = registers.map(hllState);
  return out;
}
