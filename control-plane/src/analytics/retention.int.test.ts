import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshState } from '../../test/support/state.ts';
import { AnalyticsRetention, partitionName } from './retention.ts';

const DAY = 86_400_000;
const today = Math.floor(Date.now() / DAY) * DAY;
let state: Awaited<ReturnType<typeof freshState>>;

async function pane(day: number, dataset = 'ret'): Promise<void> {
  await state.pool.query(
    `INSERT INTO analytics_panes (dataset, aggregation, definition, pane_start, group_key, rows) VALUES ($1, 'all', 'd', $2, '[]', 1)`,
    [dataset, new Date(day + 3_600_000).toISOString()],
  );
}

async function whereIs(day: number): Promise<string[]> {
  const { rows } = await state.pool.query<{ t: string }>(`SELECT tableoid::regclass::text AS t FROM analytics_panes WHERE pane_start = $1`, [new Date(day + 3_600_000).toISOString()]);
  return rows.map((r) => r.t.replace(/^.*\./, ''));
}

beforeAll(async () => {
  state = await freshState();
});

afterAll(async () => {
  await state?.drop();
});

describe('analytics retention', () => {
  it('partitions the panes by day, moving rows out of the default partition, and drops what is past retention', async () => {
    await pane(today - 40 * DAY);
    await pane(today - 5 * DAY);
    await pane(today);
    await state.pool.query(`INSERT INTO analytics_seen_ids (dataset, id, seen_at) VALUES ('ret', 'old', $1), ('ret', 'new', now())`, [new Date(today - 31 * DAY).toISOString()]);
    await state.pool.query(
      `INSERT INTO anomalies (dataset, series_kind, series_key, window_start, window_end, direction, observed, expected, band_low, band_high, score, state)
       VALUES ('ret', 'volume', '', $1, $2, 'high', 10, 1, 0, 2, 9, 'resolved'), ('ret', 'volume', '', $3, $4, 'high', 10, 1, 0, 2, 9, 'open')`,
      [new Date(today - 35 * DAY).toISOString(), new Date(today - 35 * DAY + 60_000).toISOString(), new Date(today - DAY).toISOString(), new Date(today - DAY + 60_000).toISOString()],
    );
    const retention = new AnalyticsRetention({ pool: state.pool, retentionDays: 30, intervalMs: 0 });

    // A run as if it were 40 days ago makes that day's partition (and moves its row there)...
    const earlier = await new AnalyticsRetention({ pool: state.pool, retentionDays: 30, intervalMs: 0, now: () => today - 40 * DAY }).runOnce();
    expect(earlier.created).toHaveLength(33);
    expect(await whereIs(today - 40 * DAY)).toEqual([partitionName(today - 40 * DAY)]);
    expect(await whereIs(today - 5 * DAY)).toEqual(['analytics_panes_default']);

    // ...and today's run drops it with its row, makes today's partitions, moves the recent rows into theirs.
    const first = await retention.runOnce();
    expect(first.ran).toBe(true);
    expect(first.dropped).toContain(partitionName(today - 40 * DAY));
    expect(first.dropped.every((name) => name < partitionName(today - 30 * DAY))).toBe(true);
    expect(first.created).toContain(partitionName(today));
    expect(first.created).toContain(partitionName(today + 2 * DAY));
    expect(await whereIs(today - 40 * DAY)).toEqual([]);
    expect(await whereIs(today - 5 * DAY)).toEqual([partitionName(today - 5 * DAY)]);
    expect(await whereIs(today)).toEqual([partitionName(today)]);
    expect(first.deleted).toMatchObject({ anomalies: 1, seenIds: 1 });
    const { rows: left } = await state.pool.query<{ id: string }>(`SELECT id FROM analytics_seen_ids`);
    expect(left.map((r) => r.id)).toEqual(['new']);

    // New panes go straight to their day's partition; a second run has nothing to do.
    await pane(today + DAY, 'ret2');
    expect(await whereIs(today + DAY)).toEqual([partitionName(today + DAY)]);
    const again = await retention.runOnce();
    expect(again).toMatchObject({ ran: true, created: [], dropped: [], deleted: { panes: 0, anomalies: 0, seenIds: 0, watermarks: 0 } });
    const { rows } = await state.pool.query<{ n: string }>(`SELECT count(*) AS n FROM analytics_panes`);
    expect(Number(rows[0]!.n)).toBe(3);
  });

  it('runs in one process at a time', async () => {
    const holder = await state.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtextextended(current_schema() || '/analytics-retention', 0))");
      expect((await new AnalyticsRetention({ pool: state.pool, retentionDays: 30, intervalMs: 0 }).runOnce()).ran).toBe(false);
    } finally {
      await holder.query("SELECT pg_advisory_unlock(hashtextextended(current_schema() || '/analytics-retention', 0))");
      holder.release();
    }
  });
});
