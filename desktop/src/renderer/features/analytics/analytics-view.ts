/**
 * The analytics screen's data shaping, pure: which figures an aggregation offers (its count, each measure's
 * statistics, each distinct count), the windows of an answer as one chart series per group (the busiest
 * groups when there are many), the anomalies as marks on the chart, and their series in words.
 */
import type { AggregationSpec } from '@sluice/shared/analytics';
import type { AnomalyItem, WindowFigures } from '../../api/analytics.ts';

export type MeasureStat = 'avg' | 'min' | 'max' | 'p50' | 'p95' | 'p99';

export type Figure =
  | { kind: 'count' }
  | { kind: 'measure'; field: string; stat: MeasureStat }
  | { kind: 'distinct'; field: string };

/** The time ranges the screen offers, each with the window size that suits it. */
export const VIEWS = [
  { id: '15m', label: 'last 15 minutes, 1-minute windows', minutes: 15, windowMinutes: 1 },
  { id: '1h', label: 'last hour, 5-minute windows', minutes: 60, windowMinutes: 5 },
  { id: '6h', label: 'last 6 hours, 15-minute windows', minutes: 360, windowMinutes: 15 },
  { id: '24h', label: 'last 24 hours, 1-hour windows', minutes: 1440, windowMinutes: 60 },
] as const;
export type ViewId = (typeof VIEWS)[number]['id'];

export const MAX_GROUPS_DRAWN = 6;
export const SERIES_COLOURS = ['#0b5cad', '#c62828', '#1a7f37', '#6639ba', '#9a6700', '#0e7c86'];

/** `[value, label]` of every figure of an aggregation, count first. */
export function figureOptions(spec: AggregationSpec): Array<readonly [string, string]> {
  const options: Array<readonly [string, string]> = [['count', 'records']];
  for (const m of spec.measures ?? []) {
    const stats: MeasureStat[] =
      m.percentiles === true ? ['avg', 'min', 'max', 'p50', 'p95', 'p99'] : ['avg', 'min', 'max'];
    for (const stat of stats) options.push([`measure|${m.field}|${stat}`, `${fieldName(m.field)} ${stat}`]);
  }
  for (const field of spec.distinct ?? [])
    options.push([`distinct|${field}`, `distinct ${fieldName(field)}`]);
  return options;
}

export function parseFigure(value: string): Figure {
  const [kind, field = '', stat = 'avg'] = value.split('|');
  if (kind === 'measure') return { kind, field, stat: stat as MeasureStat };
  if (kind === 'distinct') return { kind, field };
  return { kind: 'count' };
}

export function figureLabel(figure: Figure): string {
  if (figure.kind === 'count') return 'records';
  if (figure.kind === 'distinct') return `distinct ${fieldName(figure.field)}`;
  return `${fieldName(figure.field)} ${figure.stat}`;
}

/** `/temperature` → `temperature`, `/meta/site` → `meta.site`. */
export function fieldName(pointer: string): string {
  return pointer.replace(/^\//, '').split('/').join('.') || pointer;
}

/** A group's values in words: `berlin / t1`, or `all records` for an aggregation without group-by. */
export function groupLabel(group: Record<string, unknown>): string {
  const values = Object.values(group);
  if (values.length === 0) return 'all records';
  return values
    .map((v) => (v === null ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v)))
    .join(' / ');
}

export function figureOf(window: WindowFigures, figure: Figure): number | null {
  if (figure.kind === 'count') return window.count;
  if (figure.kind === 'distinct') return window.distinct[figure.field] ?? null;
  const m = window.measures[figure.field];
  return m === undefined ? null : (m[figure.stat] ?? null);
}

export interface GroupSeries {
  x: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
  /** Groups in the answer, and groups drawn (the busiest MAX_GROUPS_DRAWN, or the chosen one). */
  groups: number;
  drawn: number;
}

/**
 * One series per group over the window starts (unix seconds): a window a group has no rows in is a gap for
 * a measure, and a 0 for a count. The busiest groups (most rows over the range) are drawn, or only `only`.
 */
export function groupSeries(windows: readonly WindowFigures[], figure: Figure, only?: string): GroupSeries {
  const x = [...new Set(windows.map((w) => Date.parse(w.start) / 1000))].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const byGroup = new Map<string, { total: number; values: Array<number | null> }>();
  for (const w of windows) {
    const label = groupLabel(w.group);
    let g = byGroup.get(label);
    if (g === undefined) {
      g = { total: 0, values: x.map(() => (figure.kind === 'count' ? 0 : null)) };
      byGroup.set(label, g);
    }
    g.total += w.count;
    g.values[index.get(Date.parse(w.start) / 1000)!] = figureOf(w, figure);
  }
  const ranked = [...byGroup.entries()].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]));
  const chosen =
    only === undefined || only === ''
      ? ranked.slice(0, MAX_GROUPS_DRAWN)
      : ranked.filter(([label]) => label === only);
  return {
    x,
    series: chosen.map(([label, g]) => ({ label, values: g.values })),
    groups: byGroup.size,
    drawn: chosen.length,
  };
}

/** The groups of an answer, busiest first: the choices of the group filter. */
export function groupsByVolume(windows: readonly WindowFigures[]): string[] {
  const totals = new Map<string, number>();
  for (const w of windows) totals.set(groupLabel(w.group), (totals.get(groupLabel(w.group)) ?? 0) + w.count);
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([label]) => label);
}

/**
 * An anomaly's series in words: `volume`, `agent gw-7 volume`, `dev-00003 silent (by_device)`,
 * `temperature avg of berlin (by_site)`, `silence`.
 */
export function describeSeries(item: Pick<AnomalyItem, 'kind' | 'key'>): string {
  switch (item.kind) {
    case 'volume':
      return 'volume';
    case 'agent_volume':
      return `agent ${item.key} volume`;
    case 'group_volume':
    case 'group_silence': {
      // `aggregation|groupKey`: the volume (or silence) of one group of an aggregation, e.g. one device.
      const bar = item.key.indexOf('|');
      const aggregation = bar < 0 ? item.key : item.key.slice(0, bar);
      const group = bar < 0 ? '' : groupOfKey(item.key.slice(bar + 1));
      return `${group === '' ? 'all records' : group} ${item.kind === 'group_volume' ? 'volume' : 'silent'} (${aggregation})`;
    }
    case 'silence':
      return 'silence';
    case 'agent_silence':
      return `agent ${item.key} silent`;
    case 'measure': {
      const [aggregation = '', field = '', stat = '', ...group] = item.key.split('|');
      const groupText = groupOfKey(group.join('|'));
      return `${fieldName(field)} ${stat}${groupText === '' ? '' : ` of ${groupText}`} (${aggregation})`;
    }
    default:
      // A kind this console does not know yet (a newer control plane): its own name and key.
      return `${String(item.kind)} ${item.key}`.trim();
  }
}

/** A pane's group key is the canonical JSON array of its values: `["berlin"]` → `berlin`. */
function groupOfKey(key: string): string {
  try {
    const values = JSON.parse(key) as unknown;
    if (Array.isArray(values))
      return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' / ');
  } catch {
    // not JSON: shown as it is
  }
  return key;
}

/** Anomalies that start inside [fromS, toS] as chart marks: red while open, grey once resolved. */
export function anomalyMarks(
  items: readonly AnomalyItem[],
  fromS: number,
  toS: number,
): Array<{ at: number; label: string; colour: string }> {
  return items
    .map((a) => ({
      at: Date.parse(a.windowStart) / 1000,
      label: `${describeSeries(a)} ${a.direction}`,
      colour: a.state === 'open' ? '#c62828' : '#6e7781',
    }))
    .filter((m) => m.at >= fromS && m.at <= toS)
    .sort((a, b) => a.at - b.at);
}

/** Figures with a sensible number of digits for a table cell. */
export function figureText(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}
