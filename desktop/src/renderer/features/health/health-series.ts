/**
 * The charts' data shaping, pure: the report lists only minutes with activity, a chart needs every minute
 * of the window (quiet minutes are zeros, not gaps); consumer lag is a snapshot per answer, so the page keeps
 * the snapshots it saw as a series; rollouts become the marks drawn across every chart.
 */
import type { DatasetHealth, PipelineHealthReport } from '@sluice/shared/api/fleet-health';
import type { RolloutView } from '../../api/pipeline.ts';

export interface MinuteSeries {
  /** Unix seconds of each minute's start, oldest first. */
  x: number[];
  ingested: number[];
  validationFailures: number[];
  sinkErrors: number[];
}

const MINUTE = 60;

function sinkErrorCount(sinkErrors: DatasetHealth['totals']['sinkErrors']): number {
  return Object.values(sinkErrors).reduce((sum, s) => sum + s.failedWrites + s.rejected, 0);
}

/** Every minute of the report's window, ending with the minute of `report.at`. */
export function minuteSeries(dataset: DatasetHealth, report: Pick<PipelineHealthReport, 'at' | 'minutes'>): MinuteSeries {
  const last = Math.floor(Date.parse(report.at) / 1000 / MINUTE) * MINUTE;
  const first = last - (report.minutes - 1) * MINUTE;
  const byMinute = new Map(dataset.perMinute.map((m) => [Math.floor(Date.parse(m.minute) / 1000), m]));
  const series: MinuteSeries = { x: [], ingested: [], validationFailures: [], sinkErrors: [] };
  for (let t = first; t <= last; t += MINUTE) {
    const m = byMinute.get(t);
    series.x.push(t);
    series.ingested.push(m?.ingested ?? 0);
    series.validationFailures.push(m?.validationFailures ?? 0);
    series.sinkErrors.push(m === undefined ? 0 : sinkErrorCount(m.sinkErrors));
  }
  return series;
}

export interface LagSample {
  at: number;
  records: number;
  seconds: number | null;
}

/** Adds this answer's lag per dataset to what was seen, keeping the window's worth (and one sample per answer). */
export function addLagSamples(seen: ReadonlyMap<string, readonly LagSample[]>, report: PipelineHealthReport): Map<string, LagSample[]> {
  const at = Math.floor(Date.parse(report.at) / 1000);
  const oldest = at - report.minutes * MINUTE;
  const next = new Map<string, LagSample[]>();
  for (const dataset of report.datasets) {
    const earlier = (seen.get(dataset.dataset) ?? []).filter((s) => s.at >= oldest && s.at < at);
    next.set(dataset.dataset, dataset.lag === null ? earlier : [...earlier, { at, records: dataset.lag.records, seconds: dataset.lag.seconds }]);
  }
  return next;
}

export interface ChartMark {
  /** Unix seconds. */
  at: number;
  label: string;
  kind: 'start' | 'completed' | 'rolled-back' | 'aborted';
}

/** A rollout's start and, when it ended, its end, inside [from, to]. */
export function rolloutMarks(rollouts: readonly RolloutView[], from: number, to: number): ChartMark[] {
  const marks: ChartMark[] = [];
  for (const r of rollouts) {
    const name = `${r.policy} r${String(r.toRevision)}`;
    marks.push({ at: Date.parse(r.createdAt) / 1000, label: `rollout ${name}`, kind: 'start' });
    if (r.finishedAt !== null && (r.state === 'completed' || r.state === 'rolled-back' || r.state === 'aborted')) {
      marks.push({ at: Date.parse(r.finishedAt) / 1000, label: `${name} ${r.state}`, kind: r.state });
    }
  }
  return marks.filter((m) => m.at >= from && m.at <= to).sort((a, b) => a.at - b.at);
}
