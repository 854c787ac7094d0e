/**
 * Retention of the analytics state (docs/analytics.md, "Retention"): every SLUICE_ANALYTICS_RETENTION_INTERVAL
 * one `serve` process (the one that gets the advisory lock) keeps `analytics_panes` partitioned by day and
 * drops what is older than SLUICE_ANALYTICS_RETENTION_DAYS (30 by default):
 *
 *   1. a partition for each day from the retention cutoff to `aheadDays` ahead, made where missing: the day's
 *      rows move out of the default partition and the new table is attached, in one short transaction that
 *      holds the default partition's writes (lock_timeout bounds the wait)
 *   2. partitions of days before the cutoff dropped whole; rows of such days still in the default partition
 *      (a backfill of old data, folded while no partition existed) deleted
 *   3. anomalies that ended before the cutoff, seen ids and stream watermarks not touched since then, deleted
 *
 * Run again at once it finds nothing to do. A pane folded for a day that is already gone (a replay of very
 * old records) lands in the default partition and is deleted by the next run.
 */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import { withSessionLock } from '../db/session-lock.ts';
import { PeriodicTask } from '../periodic-task.ts';

const DAY_MS = 86_400_000;
const LOCK_KEY = "hashtextextended(current_schema() || '/analytics-retention', 0)";
const PARTITION = /^analytics_panes_p(\d{4})(\d{2})(\d{2})$/;

export interface RetentionOptions {
  /** Resolves the state schema (db/pool.ts). */
  pool: pg.Pool;
  retentionDays: number;
  /** Between two runs; 0: never by itself (tests call runOnce). */
  intervalMs: number;
  /** Days ahead of today that get their partition before their first pane (default 2). */
  aheadDays?: number;
  logger?: Logger;
  now?: () => number;
}

export interface RetentionResult {
  ran: boolean;
  created: string[];
  dropped: string[];
  deleted: { panes: number; anomalies: number; seenIds: number; watermarks: number };
}

export function partitionName(dayMs: number): string {
  return `analytics_panes_p${new Date(dayMs).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function dayOf(name: string): number | undefined {
  const m = PARTITION.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}

export class AnalyticsRetention {
  readonly #o: RetentionOptions;
  readonly #task: PeriodicTask;

  constructor(options: RetentionOptions) {
    this.#o = options;
    this.#task = new PeriodicTask({
      intervalMs: options.intervalMs,
      immediate: true,
      run: () => this.runOnce(),
      onError: (error) => options.logger?.error({ err: error }, 'analytics retention failed; trying again next interval'),
    });
  }

  start(): void {
    this.#task.start();
  }

  async stop(): Promise<void> {
    await this.#task.stop();
  }

  async runOnce(): Promise<RetentionResult> {
    const result: RetentionResult = { ran: false, created: [], dropped: [], deleted: { panes: 0, anomalies: 0, seenIds: 0, watermarks: 0 } };
    const run = await withSessionLock(this.#o.pool, LOCK_KEY, async (client) => {
      result.ran = true;
      const today = Math.floor((this.#o.now?.() ?? Date.now()) / DAY_MS) * DAY_MS;
      const cutoff = today - this.#o.retentionDays * DAY_MS;
      const existing = await this.#partitions(client);
      for (let day = cutoff; day <= today + (this.#o.aheadDays ?? 2) * DAY_MS; day += DAY_MS) {
        if (existing.has(day)) continue;
        await this.#createPartition(client, day);
        result.created.push(partitionName(day));
      }
      for (const day of [...existing.keys()].filter((d) => d < cutoff).sort((a, b) => a - b)) {
        await client.query(`DROP TABLE ${existing.get(day)!}`);
        result.dropped.push(existing.get(day)!);
      }
      const at = [new Date(cutoff).toISOString()];
      result.deleted.panes = (await client.query('DELETE FROM analytics_panes_default WHERE pane_start < $1', at)).rowCount ?? 0;
      result.deleted.anomalies = (await client.query('DELETE FROM anomalies WHERE window_end < $1', at)).rowCount ?? 0;
      result.deleted.seenIds = (await client.query('DELETE FROM analytics_seen_ids WHERE seen_at < $1', at)).rowCount ?? 0;
      result.deleted.watermarks = (await client.query('DELETE FROM analytics_watermarks WHERE updated_at < $1', at)).rowCount ?? 0;
    });
    if (run.locked && result.created.length + result.dropped.length > 0) this.#o.logger?.info({ created: result.created, dropped: result.dropped, deleted: result.deleted }, 'analytics retention');
    return result;
  }

  /** The day partitions of analytics_panes this module made, by day. */
  async #partitions(client: pg.PoolClient): Promise<Map<number, string>> {
    const res = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'analytics_panes'::regclass`,
    );
    const out = new Map<number, string>();
    for (const { name } of res.rows) {
      const day = dayOf(name);
      if (day !== undefined) out.set(day, name);
    }
    return out;
  }

  /** Moves the day's rows out of the default partition into a new table and attaches it, atomically. */
  async #createPartition(client: pg.PoolClient, day: number): Promise<void> {
    const name = partitionName(day);
    const range = [new Date(day).toISOString(), new Date(day + DAY_MS).toISOString()];
    await client.query('BEGIN');
    try {
      await client.query("SET LOCAL lock_timeout = '5s'");
      // Writers of the default partition wait (readers do not) until the day's rows have moved.
      await client.query('LOCK TABLE analytics_panes_default IN EXCLUSIVE MODE');
      await client.query(`CREATE TABLE ${name} (LIKE analytics_panes INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`);
      await client.query(`INSERT INTO ${name} SELECT * FROM analytics_panes_default WHERE pane_start >= $1 AND pane_start < $2`, range);
      await client.query('DELETE FROM analytics_panes_default WHERE pane_start >= $1 AND pane_start < $2', range);
      await client.query(`ALTER TABLE analytics_panes ATTACH PARTITION ${name} FOR VALUES FROM ('${range[0]!}') TO ('${range[1]!}')`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
