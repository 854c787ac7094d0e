/**
 * The analytics query API's answers (routes/analytics.ts): windows of an aggregation merged from its panes,
 * and the current minute's panes as real-time counters. Reads only the panes, never the rows.
 */
import type pg from 'pg';
import { ANALYTICS_MAX_RANGE_HOURS, type AggregatesQuery, type AggregatesResponse, type CountersResponse } from '@sluice/shared/api/analytics';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { InputError, NotFoundError } from '@sluice/shared/errors';
import { compileAggregations, PANE_MS } from './pane-fold.ts';
import { paneFinalBefore } from './finality.ts';
import { computeWindows, findAggregation, readPanes, rollingWindow } from './windows.ts';

export interface AnalyticsQueryDeps {
  /** Resolves the state schema (db/pool.ts). */
  pool: pg.Pool;
  datasets: { latest(name: string): Promise<DatasetVersion | undefined> };
  now?: () => number;
}

/** A query's [from, to) in ms: `to` defaults to now, `from` to an hour before it; at most ANALYTICS_MAX_RANGE_HOURS. */
export function timeRange(q: { from?: string | undefined; to?: string | undefined }, now: number): { from: number; to: number } {
  const to = q.to === undefined ? now : Date.parse(q.to);
  const from = q.from === undefined ? to - 3_600_000 : Date.parse(q.from);
  if (!(from < to)) throw InputError('`from` must be before `to`');
  if (to - from > ANALYTICS_MAX_RANGE_HOURS * 3_600_000) throw InputError(`at most ${ANALYTICS_MAX_RANGE_HOURS} hours per request`);
  return { from, to };
}

export class AnalyticsQueries {
  readonly #d: AnalyticsQueryDeps;

  constructor(deps: AnalyticsQueryDeps) {
    this.#d = deps;
  }

  async aggregates(name: string, q: AggregatesQuery): Promise<AggregatesResponse> {
    const dataset = await this.#dataset(name);
    const a = findAggregation(dataset.spec, q.aggregation);
    if (!a) throw NotFoundError(`dataset ${name} has no aggregation ${q.aggregation}`);
    const { from, to } = timeRange(q, this.#d.now?.() ?? Date.now());
    const windowMinutes = q.windowMinutes ?? 5;
    const hopMinutes = q.rolling === true ? windowMinutes : (q.hopMinutes ?? windowMinutes);
    if (windowMinutes % hopMinutes !== 0) throw InputError('windowMinutes must be a multiple of hopMinutes');
    const groupKey = q.group === undefined ? undefined : canonicalGroup(q.group);
    const size = windowMinutes * PANE_MS;
    const panes = q.rolling === true
      ? await readPanes(this.#d.pool, name, a, Math.floor(to / PANE_MS) * PANE_MS + PANE_MS - size, to + PANE_MS, groupKey)
      : await readPanes(this.#d.pool, name, a, from, to + size, groupKey);
    const all = q.rolling === true ? rollingWindow(a, panes, to, size) : computeWindows(a, panes, from, to, size, hopMinutes * PANE_MS);
    const finalBefore = (await paneFinalBefore(this.#d.pool, dataset.spec, { now: this.#d.now?.() ?? Date.now() })).getTime();
    for (const w of all) w.final = Date.parse(w.end) <= finalBefore;
    const offset = q.cursor === undefined ? 0 : decodeCursor(q.cursor);
    const limit = q.limit ?? 100;
    const page = all.slice(offset, offset + limit);
    return {
      dataset: name,
      aggregation: a.name,
      windowMinutes,
      hopMinutes,
      windows: page,
      ...(offset + limit < all.length ? { nextCursor: Buffer.from(String(offset + limit)).toString('base64url') } : {}),
    };
  }

  async counters(name: string): Promise<CountersResponse> {
    const dataset = await this.#dataset(name);
    const minute = Math.floor((this.#d.now?.() ?? Date.now()) / PANE_MS) * PANE_MS;
    const aggregations = await Promise.all(
      compileAggregations(dataset.spec).map(async (a) => {
        const panes = await readPanes(this.#d.pool, name, a, minute, minute + PANE_MS);
        return { aggregation: a.name, groups: computeWindows(a, panes, minute, minute + 1, PANE_MS, PANE_MS) };
      }),
    );
    return { dataset: name, minute: new Date(minute).toISOString(), aggregations };
  }

  async #dataset(name: string): Promise<DatasetVersion> {
    const dataset = await this.#d.datasets.latest(name);
    if (!dataset) throw NotFoundError(`dataset ${name} does not exist`);
    return dataset;
  }
}

/** `group` as the panes key it: a JSON array of the group-by values. */
function canonicalGroup(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw InputError('group must be a JSON array of the group-by values, e.g. ["berlin"]');
  }
  if (!Array.isArray(parsed)) throw InputError('group must be a JSON array of the group-by values, e.g. ["berlin"]');
  return JSON.stringify(parsed);
}

function decodeCursor(cursor: string): number {
  const n = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isInteger(n) || n < 0) throw InputError('cursor is not one this API gave out');
  return n;
}
