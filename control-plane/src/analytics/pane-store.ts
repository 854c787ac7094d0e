/**
 * Folding new rows into their panes inside a transaction someone else holds: the PostgreSQL sink's (the rows'
 * own INSERT told which are new) or the seen-id ledger's (seen-id-ledger.ts). Per batch, three statements:
 *
 *   1. INSERT the missing pane rows (empty) … ON CONFLICT DO NOTHING   — a concurrent writer's new pane waits here
 *   2. SELECT the panes FOR UPDATE, in the fold's order                 — the same order everywhere: no deadlock
 *   3. UPDATE each pane to its state ⊕ the batch's delta (merged here, pane-fold.ts), counting the rows of
 *      panes already final (finality.ts) as late
 *   4. UPSERT the streams' event-time progress (analytics_watermarks) the watermark is made of
 *
 * Rolled back with the rows if anything fails, so a pane counts a row exactly when the row is stored.
 */
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { compileAggregations, emptyState, foldRecords, mergeState, type PaneDelta, type PaneState } from './pane-fold.ts';
import { isFinal, paneFinalBefore } from './finality.ts';

/** How long a dataset's finality instant is reused between batches (it only moves forward: reuse is conservative). */
const FINALITY_CACHE_MS = 1000;

/** What the PostgreSQL sink calls before it commits a batch. */
export interface PaneFolder {
  /** Folds rows the caller's transaction just stored for the first time; answers how many pane rows it touched. */
  fold(client: pg.ClientBase, dataset: DatasetVersion, newRecords: readonly Envelope[]): Promise<number>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export class PaneStore implements PaneFolder {
  readonly #schema: string;
  readonly #table: string;
  readonly #finality = new Map<string, { at: number; finalBefore: number }>();

  /** `stateSchema`: where analytics_panes lives (the sink's own connections have no search_path for it). */
  constructor(stateSchema: string) {
    if (!SCHEMA_NAME.test(stateSchema)) throw new TypeError(`invalid state schema name ${JSON.stringify(stateSchema)}`);
    this.#schema = stateSchema;
    this.#table = `"${stateSchema}".analytics_panes`;
  }

  async fold(client: pg.ClientBase, dataset: DatasetVersion, newRecords: readonly Envelope[]): Promise<number> {
    const aggregations = compileAggregations(dataset.spec);
    if (aggregations.length === 0 || newRecords.length === 0) return 0;
    const deltas = foldRecords(aggregations, newRecords);
    if (deltas.length === 0) return 0;
    const name = dataset.spec.name;
    const finalBefore = await this.#finalBefore(client, dataset);
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
      `UPDATE ${this.#table} t SET rows = t.rows + u.r, late_rows = t.late_rows + u.l, state = u.s::jsonb, updated_at = now() ` +
        `FROM unnest($2::text[], $3::text[], $4::float8[], $5::text[], $6::bigint[], $7::text[], $8::bigint[]) AS u(a, d, p, g, r, s, l) ` +
        `WHERE t.dataset = $1 AND (t.aggregation, t.definition, t.pane_start, t.group_key) = (${keyColumns.replace('u.p', paneTime)})`,
      [name, ...keys, deltas.map((d) => d.rows), merged, deltas.map((d) => (isFinal(d.paneStart, finalBefore) ? d.rows : 0))],
    );
    await this.#advanceStreams(client, name, newRecords);
    return deltas.length;
  }

  async #finalBefore(client: pg.ClientBase, dataset: DatasetVersion): Promise<number> {
    const now = Date.now();
    const cached = this.#finality.get(dataset.spec.name);
    if (cached !== undefined && now - cached.at < FINALITY_CACHE_MS) return cached.finalBefore;
    const finalBefore = (await paneFinalBefore(client, dataset.spec, { schema: this.#schema, now })).getTime();
    this.#finality.set(dataset.spec.name, { at: now, finalBefore });
    return finalBefore;
  }

  /** Each stream's newest event and ingest time in the batch, merged with GREATEST (in key order: no deadlock). */
  async #advanceStreams(client: pg.ClientBase, dataset: string, records: readonly Envelope[]): Promise<void> {
    const streams = new Map<string, { agent: string; source: string; event: number; ingest: number }>();
    for (const r of records) {
      const key = `${r.agentId}\u0000${r.source.id}`;
      const event = Date.parse(r.eventTime);
      const ingest = Date.parse(r.ingestTime);
      const s = streams.get(key);
      if (s === undefined) streams.set(key, { agent: r.agentId, source: r.source.id, event, ingest });
      else {
        s.event = Math.max(s.event, event);
        s.ingest = Math.max(s.ingest, ingest);
      }
    }
    const rows = [...streams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
    await client.query(
      `INSERT INTO "${this.#schema}".analytics_watermarks AS w (dataset, agent_id, source_id, max_event_time, max_ingest_time) ` +
        `SELECT $1, u.a, u.s, to_timestamp(u.e / 1000.0), to_timestamp(u.i / 1000.0) FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[]) AS u(a, s, e, i) ` +
        `ON CONFLICT (dataset, agent_id, source_id) DO UPDATE SET max_event_time = GREATEST(w.max_event_time, EXCLUDED.max_event_time), ` +
        `max_ingest_time = GREATEST(w.max_ingest_time, EXCLUDED.max_ingest_time), updated_at = now()`,
      [dataset, rows.map((s) => s.agent), rows.map((s) => s.source), rows.map((s) => s.event), rows.map((s) => s.ingest)],
    );
  }
}

function mergeInto(stored: PaneState | null, delta: PaneDelta, aggregation: Parameters<typeof emptyState>[0]): PaneState {
  return mergeState(stored ?? emptyState(aggregation), delta.state);
}
