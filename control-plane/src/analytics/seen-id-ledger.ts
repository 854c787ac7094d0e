/**
 * The exactly-once guarantee for datasets that aggregate without the PostgreSQL sink: the consumer hands over
 * the records every sink of the dataset took (after the sinks, so a record dead-lettered by one of them is not
 * counted), and one transaction claims their ids in analytics_seen_ids — `ON CONFLICT DO NOTHING RETURNING`
 * says which are new — and folds only those into the panes. A crash before the commit leaves both undone;
 * the batch is redelivered (its offsets were not committed) and folded then.
 */
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { withTransaction } from '../db/transaction.ts';
import { compileAggregations } from './pane-fold.ts';
import type { PaneFolder } from './pane-store.ts';

export class SeenIdLedger {
  readonly #pool: pg.Pool;
  readonly #panes: PaneFolder;

  /** `pool` resolves the state schema (db/pool.ts). */
  constructor(pool: pg.Pool, panes: PaneFolder) {
    this.#pool = pool;
    this.#panes = panes;
  }

  /** Whether this dataset's aggregates are kept here (it aggregates and has no PostgreSQL sink to do it). */
  static serves(dataset: DatasetVersion): boolean {
    return compileAggregations(dataset.spec).length > 0 && dataset.spec.sinks.postgres?.enabled !== true;
  }

  /** Folds the records not seen before; answers how many were new. Throws when PostgreSQL fails (the caller retries). */
  async fold(dataset: DatasetVersion, records: readonly Envelope[]): Promise<number> {
    if (records.length === 0) return 0;
    return withTransaction(this.#pool, async (client) => {
      const ids = [...new Set(records.map((e) => e.id))].sort();
      const claimed = await client.query<{ id: string }>(
        'INSERT INTO analytics_seen_ids (dataset, id) SELECT $1, u.id FROM unnest($2::text[]) WITH ORDINALITY AS u(id, o) ORDER BY u.o ON CONFLICT DO NOTHING RETURNING id',
        [dataset.spec.name, ids],
      );
      const fresh = new Set(claimed.rows.map((r) => r.id));
      const firstOfEach: Envelope[] = [];
      for (const e of records) {
        if (fresh.delete(e.id)) firstOfEach.push(e);
      }
      await this.#panes.fold(client, dataset, firstOfEach);
      return firstOfEach.length;
    });
  }
}
