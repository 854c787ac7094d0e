/**
 * When a 1-minute pane is final (docs/analytics.md, "Lateness"). A pane [s, s + 1 min) is final once
 *
 *   s + 1 min + grace <= W          W: the dataset's watermark, or
 *   s + 1 min + finalAfter <= now   the wall-clock limit, whatever the watermark says.
 *
 * W is the slowest stream's progress: per stream (agent × source) that loaded records within the last
 * `finalAfter`, the newest event time loaded (analytics_watermarks, written by the pane fold) or, if later, the
 * last time its agent reported the source idle — nothing committed for a while, nothing of the dataset left in
 * its outbox — once its last committed records had been loaded (written by the check-in writer). So a quiet
 * gateway lets windows close instead of holding them open until the wall-clock limit, which is what an
 * event-time-only engine does. Both parts only grow, so a stream's progress never goes back. Standalone agents
 * do not check in: their quiet streams close by the limit.
 *
 * A record folded into a final pane still counts; the pane counts it in `late_rows`.
 */
import type pg from 'pg';
import { LATENESS_DEFAULTS } from '@sluice/shared/analytics';
import type { DatasetSpec } from '@sluice/shared/dataset';
import { PANE_MS } from './pane-fold.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface StreamProgress {
  maxEventTime: number;
  /** When its agent last reported it idle with everything it committed loaded. */
  idleThrough: number | undefined;
  updatedAt: number;
}

export interface Lateness {
  graceMs: number;
  finalAfterMs: number;
}

export function latenessOf(spec: Pick<DatasetSpec, 'lateness'>): Lateness {
  return {
    graceMs: (spec.lateness?.graceSeconds ?? LATENESS_DEFAULTS.graceSeconds) * 1000,
    finalAfterMs: (spec.lateness?.finalAfterSeconds ?? LATENESS_DEFAULTS.finalAfterSeconds) * 1000,
  };
}

/** The dataset's watermark (epoch ms), or undefined while no stream is active. */
export function watermarkOf(streams: readonly StreamProgress[], now: number, finalAfterMs: number): number | undefined {
  let watermark: number | undefined;
  for (const s of streams) {
    if (s.updatedAt < now - finalAfterMs) continue;
    const progress = Math.max(s.maxEventTime, s.idleThrough ?? -Infinity);
    watermark = watermark === undefined ? progress : Math.min(watermark, progress);
  }
  return watermark;
}

/** Panes starting at or before `finalBefore - 1 min` are final: this instant from a watermark. */
export function finalBeforeOf(watermark: number | undefined, lateness: Lateness, now: number): number {
  const byLimit = now - lateness.finalAfterMs;
  const byWatermark = watermark === undefined ? byLimit : Math.min(watermark, now) - lateness.graceMs;
  return Math.max(byLimit, byWatermark);
}

export function isFinal(paneStart: number, finalBefore: number): boolean {
  return paneStart + PANE_MS <= finalBefore;
}

/**
 * The instant up to which the dataset's panes are final: panes with pane_start + 1 min <= it. `schema`
 * qualifies the tables for connections without the state schema on their search_path (the sinks').
 */
export async function paneFinalBefore(db: Queryable, spec: Pick<DatasetSpec, 'name' | 'lateness'>, options: { schema?: string; now?: number } = {}): Promise<Date> {
  const now = options.now ?? Date.now();
  const lateness = latenessOf(spec);
  const t = options.schema === undefined ? 'analytics_watermarks' : `"${options.schema}".analytics_watermarks`;
  const res = await db.query<{ e: number; i: number | null; u: number }>(
    `SELECT extract(epoch FROM max_event_time) * 1000 AS e, extract(epoch FROM idle_through) * 1000 AS i, extract(epoch FROM updated_at) * 1000 AS u
       FROM ${t} WHERE dataset = $1 AND updated_at >= to_timestamp($2 / 1000.0)`,
    [spec.name, now - lateness.finalAfterMs],
  );
  const streams = res.rows.map((r) => ({ maxEventTime: Number(r.e), idleThrough: r.i === null ? undefined : Number(r.i), updatedAt: Number(r.u) }));
  return new Date(finalBeforeOf(watermarkOf(streams, now, lateness.finalAfterMs), lateness, now));
}
