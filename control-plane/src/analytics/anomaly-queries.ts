/**
 * GET /api/v1/analytics/{dataset}/anomalies: a dataset's anomalies whose window overlaps [from, to), newest
 * first — (window_start, series_kind, series_key) descending, the table's key, with a keyset cursor, so pages
 * never skip or repeat one while the detector writes.
 */
import type pg from 'pg';
import { ANALYTICS_MAX_RANGE_HOURS, type AnomaliesQuery, type AnomaliesResponse, type AnomalyItem } from '@sluice/shared/api/analytics';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { InputError, NotFoundError } from '@sluice/shared/errors';
import { seriesName, SERIES_KINDS, type SeriesKind } from './anomaly-rules.ts';

export interface AnomalyQueryDeps {
  pool: pg.Pool;
  datasets: { latest(name: string): Promise<DatasetVersion | undefined> };
  now?: () => number;
}

const DEFAULT_RANGE_MS = 24 * 3_600_000;

function encodeCursor(windowStart: number, kind: string, key: string): string {
  return Buffer.from(JSON.stringify([windowStart, kind, key])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string' && typeof v[2] === 'string') return [v[0] as number, v[1], v[2]];
  } catch {
    // falls through to the one answer for a cursor this route did not make
  }
  throw InputError('cursor is not one this route returned');
}

/** `kind` or `kind:key` → its parts; a kind this API does not know is the caller's mistake. */
function parseSeries(series: string): { kind: SeriesKind; key: string } {
  const at = series.indexOf(':');
  const kind = (at < 0 ? series : series.slice(0, at)) as SeriesKind;
  if (!SERIES_KINDS.includes(kind)) throw InputError(`series ${JSON.stringify(series)}: the kind must be one of ${SERIES_KINDS.join(', ')}`);
  return { kind, key: at < 0 ? '' : series.slice(at + 1) };
}

interface Row {
  series_kind: SeriesKind;
  series_key: string;
  ws: string;
  window_end: Date;
  direction: AnomalyItem['direction'];
  observed: number;
  expected: number;
  band_low: number;
  band_high: number;
  score: number;
  state: AnomalyItem['state'];
  opened_at: Date;
  resolved_at: Date | null;
  updated_at: Date;
}

export async function queryAnomalies(deps: AnomalyQueryDeps, name: string, q: AnomaliesQuery): Promise<AnomaliesResponse> {
  if (!(await deps.datasets.latest(name))) throw NotFoundError(`dataset ${name} does not exist`);
  const to = q.to === undefined ? (deps.now?.() ?? Date.now()) : Date.parse(q.to);
  const from = q.from === undefined ? to - DEFAULT_RANGE_MS : Date.parse(q.from);
  if (!(from < to)) throw InputError('`from` must be before `to`');
  if (to - from > ANALYTICS_MAX_RANGE_HOURS * 3_600_000) throw InputError(`at most ${ANALYTICS_MAX_RANGE_HOURS} hours per request`);
  const params: unknown[] = [name, from, to];
  const where = ['dataset = $1', 'window_start < to_timestamp($3 / 1000.0)', 'window_end > to_timestamp($2 / 1000.0)'];
  if (q.state !== undefined) {
    params.push(q.state);
    where.push(`state = $${params.length}`);
  }
  if (q.kind !== undefined) {
    params.push(q.kind);
    where.push(`series_kind = $${params.length}`);
  }
  if (q.series !== undefined) {
    const { kind, key } = parseSeries(q.series);
    params.push(kind, key);
    where.push(`series_kind = $${params.length - 1} AND series_key = $${params.length}`);
  }
  if (q.cursor !== undefined) {
    const [ws, kind, key] = decodeCursor(q.cursor);
    params.push(ws, kind, key);
    where.push(`(window_start, series_kind, series_key) < (to_timestamp($${params.length - 2} / 1000.0), $${params.length - 1}, $${params.length}::text COLLATE "C")`);
  }
  const limit = q.limit ?? 100;
  const { rows } = await deps.pool.query<Row>(
    `SELECT series_kind, series_key, (extract(epoch FROM window_start) * 1000)::bigint AS ws, window_end, direction, observed, expected, band_low, band_high,
            score, state, opened_at, resolved_at, updated_at
       FROM anomalies WHERE ${where.join(' AND ')} ORDER BY window_start DESC, series_kind DESC, series_key DESC LIMIT ${limit + 1}`,
    params,
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    dataset: name,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    items: page.map((r) => ({
      series: seriesName(r.series_kind, r.series_key),
      kind: r.series_kind,
      key: r.series_key,
      direction: r.direction,
      windowStart: new Date(Number(r.ws)).toISOString(),
      windowEnd: r.window_end.toISOString(),
      observed: r.observed,
      expected: r.expected,
      bandLow: r.band_low,
      bandHigh: r.band_high,
      score: r.score,
      state: r.state,
      openedAt: r.opened_at.toISOString(),
      resolvedAt: r.resolved_at === null ? null : r.resolved_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    })),
    nextCursor: rows.length > limit && last ? encodeCursor(Number(last.ws), last.series_kind, last.series_key) : null,
  };
}
