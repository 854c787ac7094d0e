/**
 * The arithmetic of anomaly detection (docs/analytics.md, "Anomalies"), free of any store: a series is a value
 * per 1-minute pane; each pane is judged against a robust baseline of the panes before it, and a small state
 * machine per series turns judged panes into anomalies.
 *
 *                 k of the last n panes flagged (same direction)
 *   (in band) ─────────────────────────────────────────────────▶ OPEN ──┐ flagged pane: window_end moves on,
 *       ▲                                                             ◀─┘ the worst pane's figures are kept
 *       └──────────── resolveAfterPanes panes in a row not flagged ──┘
 *
 *   silence: `silencePanes` empty panes in a row of a series that was sending ─▶ OPEN ─ a pane with rows ─▶ resolved
 *
 * Everything is a function of the pane values alone (times included: opened/resolved at the end of the pane
 * that decided it), so evaluating the same panes twice gives the same anomalies.
 */
import { ANOMALY_DEFAULTS, type AnomalySettings } from '@sluice/shared/analytics';
import { PANE_MS } from './pane-fold.ts';

export const DAY_MS = 86_400_000;
/** 1.4826 × MAD estimates the standard deviation of normally distributed noise. */
const MAD_TO_SIGMA = 1.4826;
/** Panes either side of the same minute yesterday that make the seasonal reference. */
const SEASONAL_HALF_WIDTH = 2;

export type SeriesKind = 'volume' | 'agent_volume' | 'group_volume' | 'measure' | 'silence' | 'agent_silence' | 'group_silence';
export const SERIES_KINDS: readonly SeriesKind[] = ['volume', 'agent_volume', 'group_volume', 'measure', 'silence', 'agent_silence', 'group_silence'];

/** The silence kind watching a volume kind, and back. */
export const SILENCE_OF: Partial<Record<SeriesKind, SeriesKind>> = { volume: 'silence', agent_volume: 'agent_silence', group_volume: 'group_silence' };
export const VOLUME_OF: Partial<Record<SeriesKind, SeriesKind>> = { silence: 'volume', agent_silence: 'agent_volume', group_silence: 'group_volume' };

export interface DetectionSettings {
  historyPanes: number;
  minHistoryPanes: number;
  minFilledRatio: number;
  threshold: number;
  k: number;
  n: number;
  resolveAfterPanes: number;
  seasonal: boolean;
  silencePanes: number;
}

/** A dataset's settings with every default filled in (k at most n, the minimum history at most the history). */
export function detectionSettings(s: AnomalySettings | undefined): DetectionSettings {
  const d = ANOMALY_DEFAULTS;
  const n = s?.persistence?.n ?? d.persistence.n;
  const historyPanes = s?.historyPanes ?? d.historyPanes;
  return {
    historyPanes,
    minHistoryPanes: Math.min(historyPanes, s?.minHistoryPanes ?? d.minHistoryPanes),
    minFilledRatio: s?.minFilledRatio ?? d.minFilledRatio,
    threshold: s?.threshold ?? d.threshold,
    n,
    k: Math.min(n, s?.persistence?.k ?? d.persistence.k),
    resolveAfterPanes: s?.resolveAfterPanes ?? d.resolveAfterPanes,
    seasonal: s?.seasonal ?? d.seasonal,
    silencePanes: s?.silencePanes ?? d.silencePanes,
  };
}

/**
 * One series: its values by pane start (ms). `counts`: a volume, where a pane without rows is 0 (and judged by
 * the silence detector); otherwise a measure, where a pane without a value is not judged.
 */
export interface SeriesData {
  kind: SeriesKind;
  key: string;
  counts: boolean;
  values: ReadonlyMap<number, number>;
  /** The first pane with data the reader saw (its range starts far enough back to cover the history). */
  firstSeen: number | undefined;
}

export interface Verdict {
  paneStart: number;
  value: number;
  expected: number;
  low: number;
  high: number;
  score: number;
  direction: 'high' | 'low';
  flagged: boolean;
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median and median absolute deviation. */
export function robustCentre(values: readonly number[]): { median: number; mad: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const m = median(sorted);
  const deviations = sorted.map((v) => Math.abs(v - m)).sort((a, b) => a - b);
  return { median: m, mad: median(deviations) };
}

function valueAt(s: SeriesData, t: number): number | undefined {
  const v = s.values.get(t);
  if (v !== undefined) return v;
  return s.counts && s.firstSeen !== undefined && t >= s.firstSeen ? 0 : undefined;
}

/** History panes of `t` (the `historyPanes` before it, from the series' first pane on) and those with data. */
function history(s: SeriesData, t: number, settings: DetectionSettings): { panes: number[]; filled: number } {
  const panes: number[] = [];
  let filled = 0;
  if (s.firstSeen === undefined) return { panes, filled };
  for (let j = Math.max(t - settings.historyPanes * PANE_MS, s.firstSeen); j < t; j += PANE_MS) {
    panes.push(j);
    if ((s.values.get(j) ?? 0) !== 0 || (!s.counts && s.values.has(j))) filled++;
  }
  return { panes, filled };
}

/** Median of the panes around the same minute yesterday, if enough of them have a value. */
function seasonalReference(s: SeriesData, t: number): number | undefined {
  const around: number[] = [];
  for (let i = -SEASONAL_HALF_WIDTH; i <= SEASONAL_HALF_WIDTH; i++) {
    const v = valueAt(s, t - DAY_MS + i * PANE_MS);
    if (v !== undefined) around.push(v);
  }
  return around.length > SEASONAL_HALF_WIDTH ? median(around.sort((a, b) => a - b)) : undefined;
}

/**
 * The pane at `t` judged against its baseline; undefined when it is not judged (no value, too little history,
 * a sparse series, or — for volumes while the silence detector is on — a pane without rows).
 *
 * Baseline: median and MAD of the history panes; with `seasonal` and a day of history, the same minute
 * yesterday plus the median of the history's differences from their own yesterday (so a daily cycle is
 * expected, and a level shift since yesterday is followed), its spread the MAD of those differences.
 */
export function judgePane(s: SeriesData, t: number, settings: DetectionSettings): Verdict | undefined {
  const value = valueAt(s, t);
  if (value === undefined) return undefined;
  if (s.counts && value === 0 && settings.silencePanes > 0) return undefined;
  const { panes, filled } = history(s, t, settings);
  if (panes.length < settings.minHistoryPanes || filled < settings.minFilledRatio * panes.length) return undefined;
  const sample: number[] = [];
  for (const j of panes) {
    const v = valueAt(s, j);
    if (v !== undefined) sample.push(v);
  }
  if (sample.length < settings.minHistoryPanes * settings.minFilledRatio || sample.length < 3) return undefined;
  let expected: number;
  let spread: number;
  const today = seasonalReference(s, t);
  const residuals: number[] = [];
  if (settings.seasonal && today !== undefined) {
    for (const j of panes) {
      const v = valueAt(s, j);
      const ref = seasonalReference(s, j);
      if (v !== undefined && ref !== undefined) residuals.push(v - ref);
    }
  }
  if (today !== undefined && residuals.length >= settings.minHistoryPanes) {
    const r = robustCentre(residuals);
    expected = today + r.median;
    spread = r.mad;
  } else {
    const c = robustCentre(sample);
    expected = c.median;
    spread = c.mad;
  }
  // Floors: a count varies by about its square root (Poisson) however flat its history; a measure by a
  // hundredth of its level, so a constant series does not alarm on rounding.
  const floor = s.counts ? Math.sqrt(Math.max(expected, 1)) : Math.max(Math.abs(expected) * 0.01, 1e-9);
  const scale = Math.max(MAD_TO_SIGMA * spread, floor);
  const score = Math.abs(value - expected) / scale;
  const low = s.counts ? Math.max(0, expected - settings.threshold * scale) : expected - settings.threshold * scale;
  return { paneStart: t, value, expected, low, high: expected + settings.threshold * scale, score, direction: value >= expected ? 'high' : 'low', flagged: score > settings.threshold };
}

export interface AnomalyRecord {
  kind: SeriesKind;
  key: string;
  windowStart: number;
  /** End of the last pane found out of band (silence: of the last silent pane). */
  windowEnd: number;
  direction: 'high' | 'low' | 'silent';
  observed: number;
  expected: number;
  bandLow: number;
  bandHigh: number;
  score: number;
  state: 'open' | 'resolved';
  /** End of the pane that opened it (event time). */
  openedAt: number;
  /** End of the pane that resolved it. */
  resolvedAt: number | null;
}

/**
 * Where a series stands before the panes being judged: its open anomaly, if any, and (when its last one is
 * resolved) the resolution time, before which no pane may count towards a new one.
 */
export interface SeriesCarry {
  open?: AnomalyRecord | undefined;
  notBefore?: number | undefined;
}

/** Panes the carried anomaly already covers are not judged again (evaluating old panes again changes nothing). */
function resumeAt(from: number, carry: SeriesCarry): number {
  return Math.max(from, carry.open?.windowEnd ?? carry.notBefore ?? from);
}

/**
 * Judges the panes in [from, to) of one series, carrying on from `carry`; answers every anomaly opened,
 * changed or resolved (its last state each). At most one is open at the end.
 */
export function evaluateSeries(s: SeriesData, from: number, to: number, settings: DetectionSettings, carry: SeriesCarry = {}): AnomalyRecord[] {
  const changed = new Map<number, AnomalyRecord>();
  let current = carry.open ? { ...carry.open } : undefined;
  let notBefore = carry.notBefore ?? -Infinity;
  const verdicts = new Map<number, Verdict | undefined>();
  const verdict = (t: number): Verdict | undefined => {
    if (!verdicts.has(t)) verdicts.set(t, judgePane(s, t, settings));
    return verdicts.get(t);
  };
  for (let t = resumeAt(from, carry); t < to; t += PANE_MS) {
    const v = verdict(t);
    if (current) {
      if (v?.flagged) {
        current.windowEnd = t + PANE_MS;
        if (v.score > current.score) Object.assign(current, figures(v));
        changed.set(current.windowStart, { ...current });
      } else if (t + PANE_MS - current.windowEnd >= settings.resolveAfterPanes * PANE_MS) {
        current.state = 'resolved';
        current.resolvedAt = t + PANE_MS;
        changed.set(current.windowStart, { ...current });
        notBefore = t + PANE_MS;
        current = undefined;
      }
      continue;
    }
    if (!v?.flagged) continue;
    // k of the last n panes flagged in the same direction: open at the first of them.
    const same: Verdict[] = [];
    for (let j = Math.max(t - (settings.n - 1) * PANE_MS, notBefore); j <= t; j += PANE_MS) {
      const w = verdict(j);
      if (w?.flagged && w.direction === v.direction) same.push(w);
    }
    if (same.length < settings.k) continue;
    const worst = same.reduce((a, b) => (b.score > a.score ? b : a));
    current = { kind: s.kind, key: s.key, windowStart: same[0]!.paneStart, windowEnd: t + PANE_MS, ...figures(worst), state: 'open', openedAt: t + PANE_MS, resolvedAt: null };
    changed.set(current.windowStart, { ...current });
  }
  return [...changed.values()];
}

function figures(v: Verdict): Pick<AnomalyRecord, 'direction' | 'observed' | 'expected' | 'bandLow' | 'bandHigh' | 'score'> {
  return { direction: v.direction, observed: v.value, expected: v.expected, bandLow: v.low, bandHigh: v.high, score: v.score };
}

/**
 * The silence detector on a volume series (kind `silence` / `agent_silence`): `silencePanes` panes without
 * rows in a row, after a history that was not sparse and never held such a gap, open a silence anomaly
 * (expected: the history's median); the first pane with rows again resolves it.
 */
export function evaluateSilence(s: SeriesData, kind: SeriesKind, from: number, to: number, settings: DetectionSettings, carry: SeriesCarry = {}): AnomalyRecord[] {
  const need = settings.silencePanes;
  if (need <= 0 || s.firstSeen === undefined) return [];
  const changed: AnomalyRecord[] = [];
  let current = carry.open ? { ...carry.open } : undefined;
  let notBefore = carry.notBefore ?? -Infinity;
  const rows = (t: number): number => s.values.get(t) ?? 0;
  for (let t = resumeAt(from, carry); t < to; t += PANE_MS) {
    if (current) {
      if (rows(t) === 0) {
        current.windowEnd = t + PANE_MS;
        current.score = (current.windowEnd - current.windowStart) / PANE_MS;
        changed.push({ ...current });
      } else {
        current.state = 'resolved';
        current.resolvedAt = t + PANE_MS;
        changed.push({ ...current });
        notBefore = t + PANE_MS;
        current = undefined;
      }
      continue;
    }
    const start = t - (need - 1) * PANE_MS;
    if (start < s.firstSeen || start < notBefore) continue;
    let silent = true;
    for (let j = start; j <= t && silent; j += PANE_MS) silent = rows(j) === 0;
    if (!silent) continue;
    const { panes, filled } = history(s, start, settings);
    if (panes.length < settings.minHistoryPanes || filled < settings.minFilledRatio * panes.length) continue;
    let run = 0;
    let longest = 0;
    for (const j of panes) {
      run = rows(j) === 0 ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    if (longest >= need) continue;
    const { median: expected } = robustCentre(panes.map(rows));
    current = {
      kind,
      key: s.key,
      windowStart: start,
      windowEnd: t + PANE_MS,
      direction: 'silent',
      observed: 0,
      expected,
      bandLow: Math.min(1, expected),
      bandHigh: Math.max(...panes.map(rows)),
      score: need,
      state: 'open',
      openedAt: t + PANE_MS,
      resolvedAt: null,
    };
    changed.push({ ...current });
  }
  // One record per anomaly: the last change of each.
  const last = new Map<number, AnomalyRecord>();
  for (const a of changed) last.set(a.windowStart, a);
  return [...last.values()];
}

/** The series name used by the metrics, the API and its filter: `kind` or `kind:key`. */
export function seriesName(kind: SeriesKind, key: string): string {
  return key === '' ? kind : `${kind}:${key}`;
}
