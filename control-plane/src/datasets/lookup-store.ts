/**
 * Lookup tables (docs/transforms.md, "Lookup tables"): rows of key → JSON value that the `lookup` transform
 * copies into records. A PUT replaces a table whole, in one transaction, audited; the consumer sees the new
 * rows within its reference-data refresh (reference-data.ts).
 */
import type pg from 'pg';
import { NotFoundError } from '@sluice/shared/errors';
import type { LookupRowsQuery, LookupSummary, LookupView, PutLookupBody } from '@sluice/shared/api/lookups';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit, type AuditActor } from '../operators/audit.ts';

interface SummaryRow {
  name: string;
  description: string;
  rows: number;
  updated_at: Date;
}

const summary = (r: SummaryRow): LookupSummary => ({ name: r.name, description: r.description, rows: r.rows, updatedAt: r.updated_at.toISOString() });

export class LookupStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async list(): Promise<LookupSummary[]> {
    return (await this.#pool.query<SummaryRow>('SELECT name, description, rows, updated_at FROM lookup_tables ORDER BY name')).rows.map(summary);
  }

  async get(name: string, query: LookupRowsQuery = {}): Promise<LookupView> {
    const found = await this.#pool.query<SummaryRow>('SELECT name, description, rows, updated_at FROM lookup_tables WHERE name = $1', [name]);
    if (!found.rows[0]) throw NotFoundError(`lookup table ${name} does not exist`);
    const limit = query.limit ?? 100;
    const rows = await this.#pool.query<{ key: string; value: unknown }>(
      'SELECT key, value FROM lookup_rows WHERE lookup = $1 AND ($2::text IS NULL OR key > $2) ORDER BY key LIMIT $3',
      [name, query.after ?? null, limit + 1],
    );
    const page = rows.rows.slice(0, limit);
    return { lookup: summary(found.rows[0]), rows: page, ...(rows.rows.length > limit ? { nextAfter: page.at(-1)!.key } : {}) };
  }

  async put(name: string, body: PutLookupBody, by: { actor: AuditActor; requestId?: string }): Promise<LookupSummary> {
    const keys = new Set(body.rows.map((r) => r.key));
    return withTransaction(this.#pool, async (client) => {
      const before = await client.query<{ rows: number }>('SELECT rows FROM lookup_tables WHERE name = $1 FOR UPDATE', [name]);
      const saved = await client.query<SummaryRow>(
        `INSERT INTO lookup_tables (name, description, rows, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, rows = EXCLUDED.rows, updated_at = now()
         RETURNING name, description, rows, updated_at`,
        [name, body.description ?? '', keys.size],
      );
      await client.query('DELETE FROM lookup_rows WHERE lookup = $1', [name]);
      // A key given twice keeps its last row.
      const last = new Map(body.rows.map((r) => [r.key, r.value]));
      await client.query('INSERT INTO lookup_rows (lookup, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::jsonb[]) AS u(k, v)', [
        name,
        [...last.keys()],
        [...last.values()].map((v) => JSON.stringify(v ?? null)),
      ]);
      await recordAudit(client, { ...by, action: 'lookup.put', target: { kind: 'lookup', id: name }, before: before.rows[0] ? { rows: before.rows[0].rows } : null, after: { rows: keys.size } });
      return summary(saved.rows[0]!);
    });
  }

  async delete(name: string, by: { actor: AuditActor; requestId?: string }): Promise<void> {
    await withTransaction(this.#pool, async (client) => {
      const gone = await client.query<{ rows: number }>('DELETE FROM lookup_tables WHERE name = $1 RETURNING rows', [name]);
      if (!gone.rows[0]) throw NotFoundError(`lookup table ${name} does not exist`);
      await recordAudit(client, { ...by, action: 'lookup.delete', target: { kind: 'lookup', id: name }, before: { rows: gone.rows[0].rows } });
    });
  }
}
