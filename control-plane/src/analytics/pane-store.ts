/**
 * Folding new rows into their panes inside a transaction someone else holds: the PostgreSQL sink's (the rows'
 * own INSERT told which are new) or the seen-id ledger's (seen-id-ledger.ts). Per batch, three statements:
 *
 *   1. INSERT the missing pane rows (empty) … ON CONFLICT DO NOTHING   — a concurrent writer's new pane waits here
 *   2. SELECT the panes FOR UPDATE, in the fold's order                 — the same order everywhere: no deadlock
 *   3. UPDATE each pane to its state ⊕ the batch's delta (merged here, pane-fold.ts)
 *
 * Rolled back with the rows if anything fails, so a pane counts a row exactly when the row is stored.
 */
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { compileAggregations, emptyState, foldRecords, mergeState, type PaneDelta, type PaneState } from './pane-fold.ts';

/** What the PostgreSQL sink calls before it commits a batch. */
export interface PaneFolder {
  /** Folds rows the caller's transaction just stored for the first time; answers how many pane rows it touched. */
  fold(client: pg.ClientBase, dataset: DatasetVersion, newRecords: readonly Envelope[]): Promise<number>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export class PaneStore implements PaneFolder {
  readonly #table: string;

  /** `stateSchema`: where analytics_panes lives (the sink's own connections have no search_path for it). */
  constructor(stateSchema: string) {
    if (!SCHEMA_NAME.test(stateSchema)) throw new TypeError(`invalid state schema name ${JSON.stringify(stateSchema)}`);
    this.#table = `"${stateSchema}".analytics_panes`;
  }

  async fold(client: pg.ClientBase, dataset: DatasetVersion, newRecords: readonly Envelope[]): Promise<number> {
    const aggregations = compileAggregations(dataset.spec);
    if (aggregations.length === 0 || newRecords.length === 0) return 0;
    const deltas = foldRecords(aggregations, newRecords);
    if (deltas.length === 0) return 0;
    const name = dataset.spec.name;
    const keys = [deltas.map((d) => d.aggregation), deltas.map((d) => d.definition), deltas.map((d) => d.paneStart), deltas.map((d) => d.groupKey)];
    const keyColumns = 'u.a, u.d, u.p, u.g';
    const paneTime = `to_timestamp(u.p / 1000.0)`;
    await client.query(
      `INSERT INTO ${this.#table} (dataset, aggregation, definition, pane_start, group_key, group_values) ` +
        `SELECT $1, u.a, u.d, ${paneTime}, u.g, u.gv::jsonb FROM unnest($2::text[], $3::text[], $4::float8[], $5::text[], $6::text[]) WITH ORDINALITY AS u(a, d, p, g, gv, o) ` +
        `ORDER BY u.o ON CONFLICT DO NOTHING`,
      [name, ...keys, deltas.map((d) => JSON.stringify(d.group))],
    );
    const current = await client.query<{ o: string; state: PaneState | null }>(
      `SELECT u.o, t.state FROM unnest($2::text[], $3::text[], $4::float8[], $5::text[]) WITH ORDINALITY AS u(a, d, p, g, o) ` +
        `JOIN ${this.#table} t ON t.dataset = $1 AND t.aggregation = u.a AND t.definition = u.d AND t.pane_start = ${paneTime} AND t.group_key = u.g ` +
        `ORDER BY u.o FOR UPDATE OF t`,
      [name, ...keys],
    );
    const states = new Map(current.rows.map((r) => [Number(r.o) - 1, r.state]));
    const merged = deltas.map((d, i) => JSON.stringify(mergeInto(states.get(i) ?? null, d, aggregations.find((a) => a.name === d.aggregation)!)));
    await client.query(
      `UPDATE ${this.#table} t SET rows = t.rows + u.r, state = u.s::jsonb, updated_at = now() ` +
        `FROM unnest($2::text[], $3::text[], $4::float8[], $5::text[], $6::bigint[], $7::text[]) AS u(a, d, p, g, r, s) ` +
        `WHERE t.dataset = $1 AND (t.aggregation, t.definition, t.pane_start, t.group_key) = (${keyColumns.replace('u.p', paneTime)})`,
      [name, ...keys, deltas.map((d) => d.rows), merged],
    );
    return deltas.length;
  }
}

function mergeInto(stored: PaneState | null, delta: PaneDelta, aggregation: Parameters<typeof emptyState>[0]): PaneState {
  return mergeState(stored ?? emptyState(aggregation), delta.state);
}
