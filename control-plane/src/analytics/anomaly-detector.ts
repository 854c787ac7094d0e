/**
 * The anomaly detector's loop (docs/analytics.md, "Anomalies"): every SLUICE_ANOMALY_INTERVAL_SECONDS each
 * `serve` process tries `pg_try_advisory_lock` on its state schema's detector key; the one that gets it
 * evaluates every dataset, the others skip the tick. Per dataset, in one transaction:
 *
 *   1. the panes final since the last run: [anomaly_progress.evaluated_before, paneFinalBefore)
 *      (the first run starts `catchUpPanes` back)
 *   2. the minutes of the dataset's PostgreSQL table not counted per agent yet, counted (each minute once)
 *   3. the series over those panes plus their history (and the same range a day earlier: seasonal baseline)
 *   4. each series judged from where it stood (its open anomaly, or when its last one resolved)
 *   5. anomalies upserted by their derived key, progress moved on
 *
 * So a crash before the commit evaluates the same panes again next time, and evaluating them again writes
 * the same rows. The lock is a session lock held on one pooled connection for the whole tick
 * (db/session-lock.ts).
 */
import type pg from 'pg';
import type { DatasetSpec } from '@sluice/shared/dataset';
import type { Logger } from '@sluice/shared/node/logger';
import { DAY_MS, detectionSettings, evaluateSeries, evaluateSilence, SILENCE_OF, VOLUME_OF, type AnomalyRecord, type SeriesCarry, type SeriesKind } from './anomaly-rules.ts';
import { agentTable, countAgentMinutes, paneOf, readSeries, type PaneRange } from './anomaly-series.ts';
import { paneFinalBefore } from './finality.ts';
import { PANE_MS } from './pane-fold.ts';
import { withSessionLock } from '../db/session-lock.ts';
import { PeriodicTask } from '../periodic-task.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** Panes a single run evaluates at most per dataset (a detector that was off catches up over several runs). */
const MAX_PANES_PER_RUN = 1440;

export interface AnomalyDetectorOptions {
  /** Resolves the state schema (db/pool.ts). */
  pool: pg.Pool;
  datasets: { list(): Promise<ReadonlyArray<{ spec: DatasetSpec }>> };
  /** Where the datasets' PostgreSQL tables are (per-agent volumes). */
  dataSchema: string;
  /** Between two runs; 0: never runs by itself (tests call runOnce). */
  intervalMs: number;
  /** How far back (in panes) a dataset's first evaluation starts. */
  catchUpPanes?: number;
  /** Up to where a dataset's panes are final (finality.ts); a test may fix it. */
  finalBefore?: (db: Queryable, spec: DatasetSpec, now: number) => Promise<number>;
  now?: () => number;
  logger?: Logger | undefined;
  /** Called after each run: `skipped` when another process held the lock. */
  onRun?: (result: 'ok' | 'skipped' | 'failed') => void;
}

export interface RunResult {
  ran: boolean;
  /** Anomaly rows written (opened, extended or resolved). */
  changed: number;
  opened: number;
  resolved: number;
}

const LOCK_KEY = "hashtextextended(current_schema() || '/anomaly-detector', 0)";

export class AnomalyDetector {
  readonly #o: AnomalyDetectorOptions;
  readonly #now: () => number;
  readonly #finalBefore: NonNullable<AnomalyDetectorOptions['finalBefore']>;
  readonly #task: PeriodicTask;

  constructor(options: AnomalyDetectorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#finalBefore = options.finalBefore ?? (async (db, spec, now) => (await paneFinalBefore(db, spec, { now })).getTime());
    this.#task = new PeriodicTask({
      intervalMs: options.intervalMs,
      run: async () => {
        const r = await this.runOnce();
        options.onRun?.(r.ran ? 'ok' : 'skipped');
      },
      onError: (error) => {
        options.onRun?.('failed');
        options.logger?.error({ err: error }, 'anomaly detection failed; retrying next interval');
      },
    });
  }

  start(): void {
    this.#task.start();
  }

  async stop(): Promise<void> {
    await this.#task.stop();
  }

  /** One evaluation of every dataset, if this process gets the lock. */
  async runOnce(): Promise<RunResult> {
    const result: RunResult = { ran: false, changed: 0, opened: 0, resolved: 0 };
    await withSessionLock(this.#o.pool, LOCK_KEY, async (client) => {
      result.ran = true;
      for (const { spec } of await this.#o.datasets.list()) {
        if (spec.anomalies?.enabled === false) continue;
        try {
          const r = await this.#evaluate(client, spec);
          result.changed += r.changed;
          result.opened += r.opened;
          result.resolved += r.resolved;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          this.#o.logger?.error({ err: error, dataset: spec.name }, 'anomaly detection of a dataset failed; the others go on');
        }
      }
    });
    return result;
  }

  async #evaluate(client: pg.PoolClient, spec: DatasetSpec): Promise<Omit<RunResult, 'ran'>> {
    const out = { changed: 0, opened: 0, resolved: 0 };
    const settings = detectionSettings(spec.anomalies);
    const now = this.#now();
    await client.query('BEGIN');
    const progress = (
      await client.query<{ ms: string; af: string | null; ab: string | null }>(
        `SELECT (extract(epoch FROM evaluated_before) * 1000)::bigint AS ms, (extract(epoch FROM agents_from) * 1000)::bigint AS af,
                (extract(epoch FROM agents_before) * 1000)::bigint AS ab FROM anomaly_progress WHERE dataset = $1 FOR UPDATE`,
        [spec.name],
      )
    ).rows[0];
    const final = paneOf(await this.#finalBefore(client, spec, now));
    const from = progress ? Number(progress.ms) : final - (this.#o.catchUpPanes ?? 60) * PANE_MS;
    const to = Math.min(final, from + MAX_PANES_PER_RUN * PANE_MS);
    if (from >= to) {
      await client.query('COMMIT');
      return out;
    }
    const lookback = (settings.historyPanes + settings.n + settings.silencePanes + 2) * PANE_MS;
    const ranges: PaneRange[] = [[from - lookback, to]];
    if (settings.seasonal) ranges.push([from - lookback - DAY_MS - 3 * PANE_MS, to - DAY_MS + 3 * PANE_MS]);
    const counted = await this.#countAgents(client, spec, Math.min(...ranges.map((r) => r[0])), to, progress?.af ?? null, progress?.ab ?? null);
    const series = await readSeries(client, spec, this.#o.dataSchema, ranges);
    const carry = await carries(client, spec.name);
    const byKey = new Map(series.map((s) => [`${s.kind}\u0000${s.key}`, s]));
    // A series with an open anomaly but no rows in range still gets judged (its silence goes on, or it resolves).
    for (const c of carry.values()) {
      const a = c.open;
      if (!a) continue;
      const base = VOLUME_OF[a.kind] ?? a.kind;
      const id = `${base}\u0000${a.key}`;
      if (!byKey.has(id)) byKey.set(id, { kind: base, key: a.key, counts: base !== 'measure', values: new Map(), firstSeen: VOLUME_OF[a.kind] ? ranges[0]![0] : undefined });
    }
    const records: AnomalyRecord[] = [];
    for (const s of byKey.values()) {
      records.push(...evaluateSeries(s, from, to, settings, carry.get(`${s.kind}\u0000${s.key}`)));
      const silence = SILENCE_OF[s.kind];
      if (silence) records.push(...evaluateSilence(s, silence, from, to, settings, carry.get(`${silence}\u0000${s.key}`)));
    }
    for (const a of records) {
      const before = carry.get(`${a.kind}\u0000${a.key}`)?.open;
      if (a.state === 'open' && before?.windowStart !== a.windowStart) out.opened++;
      if (a.state === 'resolved') out.resolved++;
    }
    await upsert(client, spec.name, records);
    await client.query(
      `INSERT INTO anomaly_progress (dataset, evaluated_before, agents_from, agents_before) VALUES ($1, to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0))
       ON CONFLICT (dataset) DO UPDATE SET evaluated_before = EXCLUDED.evaluated_before, agents_from = EXCLUDED.agents_from, agents_before = EXCLUDED.agents_before, updated_at = now()`,
      [spec.name, to, counted?.from ?? null, counted?.before ?? null],
    );
    await client.query('COMMIT');
    out.changed = records.length;
    if (out.opened + out.resolved > 0) this.#o.logger?.info({ dataset: spec.name, opened: out.opened, resolved: out.resolved }, 'anomalies changed');
    return out;
  }

  /**
   * Keeps anomaly_agent_minutes covering [need, to) with each minute counted once: forward from where the last
   * run stopped, backward once (a dataset's first run, or a newly seasonal one); minutes older than `need`
   * are deleted. Answers the counted range, or undefined when the dataset has no agent counts.
   */
  async #countAgents(client: pg.PoolClient, spec: DatasetSpec, need: number, to: number, countedFrom: string | null, countedBefore: string | null): Promise<{ from: number; before: number } | undefined> {
    const table = agentTable(spec, this.#o.dataSchema);
    if (table === undefined) return undefined;
    let from = countedFrom === null ? to : Number(countedFrom);
    let before = countedBefore === null ? to : Number(countedBefore);
    if (before < need || from > to) [from, before] = [to, to];
    if (before < to) await countAgentMinutes(client, spec, table, before, to);
    if (need < from) await countAgentMinutes(client, spec, table, need, from);
    await client.query('DELETE FROM anomaly_agent_minutes WHERE dataset = $1 AND minute < to_timestamp($2 / 1000.0)', [spec.name, need]);
    return { from: need, before: Math.max(before, to) };
  }
}

interface AnomalyRow {
  series_kind: SeriesKind;
  series_key: string;
  ws: string;
  we: string;
  direction: AnomalyRecord['direction'];
  observed: number;
  expected: number;
  band_low: number;
  band_high: number;
  score: number;
  state: 'open' | 'resolved';
  oa: string;
  ra: string | null;
}

/** Per series (kind + key), where it stands: its latest anomaly, open or resolved. */
async function carries(db: Queryable, dataset: string): Promise<Map<string, SeriesCarry>> {
  const rows = await db.query<AnomalyRow>(
    `SELECT DISTINCT ON (series_kind, series_key) series_kind, series_key, (extract(epoch FROM window_start) * 1000)::bigint AS ws,
            (extract(epoch FROM window_end) * 1000)::bigint AS we, direction, observed, expected, band_low, band_high, score, state,
            (extract(epoch FROM opened_at) * 1000)::bigint AS oa, (extract(epoch FROM resolved_at) * 1000)::bigint AS ra
       FROM anomalies WHERE dataset = $1 ORDER BY series_kind, series_key, window_start DESC`,
    [dataset],
  );
  const out = new Map<string, SeriesCarry>();
  for (const r of rows.rows) {
    const record: AnomalyRecord = {
      kind: r.series_kind,
      key: r.series_key,
      windowStart: Number(r.ws),
      windowEnd: Number(r.we),
      direction: r.direction,
      observed: r.observed,
      expected: r.expected,
      bandLow: r.band_low,
      bandHigh: r.band_high,
      score: r.score,
      state: r.state,
      openedAt: Number(r.oa),
      resolvedAt: r.ra === null ? null : Number(r.ra),
    };
    out.set(`${r.series_kind}\u0000${r.series_key}`, r.state === 'open' ? { open: record } : { notBefore: record.resolvedAt ?? record.windowEnd });
  }
  return out;
}

async function upsert(db: Queryable, dataset: string, records: readonly AnomalyRecord[]): Promise<void> {
  if (records.length === 0) return;
  const col = <T>(f: (a: AnomalyRecord) => T): T[] => records.map(f);
  await db.query(
    `INSERT INTO anomalies (dataset, series_kind, series_key, window_start, window_end, direction, observed, expected, band_low, band_high, score, state, opened_at, resolved_at)
     SELECT $1, u.k, u.key, to_timestamp(u.ws / 1000.0), to_timestamp(u.we / 1000.0), u.d, u.o, u.e, u.bl, u.bh, u.s, u.st, to_timestamp(u.oa / 1000.0), to_timestamp(u.ra / 1000.0)
       FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::float8[], $14::float8[])
            AS u(k, key, ws, we, d, o, e, bl, bh, s, st, oa, ra)
     ON CONFLICT (dataset, series_kind, series_key, window_start) DO UPDATE SET
       window_end = EXCLUDED.window_end, direction = EXCLUDED.direction, observed = EXCLUDED.observed, expected = EXCLUDED.expected,
       band_low = EXCLUDED.band_low, band_high = EXCLUDED.band_high, score = EXCLUDED.score, state = EXCLUDED.state,
       resolved_at = EXCLUDED.resolved_at, updated_at = now()`,
    [
      dataset,
      col((a) => a.kind),
      col((a) => a.key),
      col((a) => a.windowStart),
      col((a) => a.windowEnd),
      col((a) => a.direction),
      col((a) => a.observed),
      col((a) => a.expected),
      col((a) => a.bandLow),
      col((a) => a.bandHigh),
      col((a) => a.score),
      col((a) => a.state),
      col((a) => a.openedAt),
      col((a) => a.resolvedAt),
    ],
  );
}
