/**
 * What transforms read besides the record (record-processor.ts), from PostgreSQL: lookup tables
 * (lookup_rows, written by PUT /api/v1/lookups/{name}) and the agents' labels. Held in memory and read again
 * when older than `refreshMs`, so a batch asks PostgreSQL at most once per table per interval, and a
 * changed table is seen within it.
 */
import type pg from 'pg';
import type { ReferenceData } from './record-processor.ts';

export class PgReferenceData implements ReferenceData {
  readonly #pool: pg.Pool;
  readonly #refreshMs: number;
  readonly #tables = new Map<string, { at: number; rows: Map<string, unknown> }>();
  #labels: { at: number; byAgent: Map<string, Record<string, string>> } | undefined;

  constructor(pool: pg.Pool, refreshMs = 10_000) {
    this.#pool = pool;
    this.#refreshMs = refreshMs;
  }

  async prepare(tables: readonly string[], labels: boolean): Promise<void> {
    const now = Date.now();
    for (const table of tables) {
      const held = this.#tables.get(table);
      if (held && now - held.at < this.#refreshMs) continue;
      const { rows } = await this.#pool.query<{ key: string; value: unknown }>('SELECT key, value FROM lookup_rows WHERE lookup = $1', [table]);
      this.#tables.set(table, { at: now, rows: new Map(rows.map((r) => [r.key, r.value])) });
    }
    if (labels && (!this.#labels || now - this.#labels.at >= this.#refreshMs)) {
      const { rows } = await this.#pool.query<{ id: string; labels: Record<string, string> }>('SELECT id, labels FROM agents');
      this.#labels = { at: now, byAgent: new Map(rows.map((r) => [r.id, r.labels])) };
    }
  }

  lookup(table: string, key: string): { found: boolean; value?: unknown } {
    const rows = this.#tables.get(table)?.rows;
    return rows?.has(key) === true ? { found: true, value: rows.get(key) } : { found: false };
  }

  agentLabels(agentId: string): Record<string, string> | undefined {
    return this.#labels?.byAgent.get(agentId);
  }
}
