/**
 * The edge side of the ledger: records acknowledged by Kafka per dataset and minute of their ingestTime,
 * exact and durable. Each frame carries its own counts (`frameLedger`, computed once at commit); the delete of
 * acknowledged frames adds them to `shipped_minutes` in the same SQLite transaction, so a crash can neither
 * count a frame without deleting it nor delete it uncounted. A re-send after a restart (resends.ts) is
 * counted once: its frame is deleted, and counted, once.
 *
 * The check-in reports the rows changed since the last report the control plane acknowledged
 * (`changedSince` / `markReported`; values are cumulative per minute, so a row sent twice is harmless).
 * Rows neither changed for PRUNE_AFTER_MS nor still unreported are dropped.
 */
import type Database from 'better-sqlite3';
import { KAFKA_HEADERS } from '@sluice/shared/envelope';
import type { OutboxMessage } from '../sources/source.ts';

export interface ShippedMinute {
  dataset: string;
  /** Epoch ms of the whole minute. */
  minute: number;
  /** Records shipped so far in that minute (cumulative). */
  shipped: number;
}

export const PRUNE_AFTER_MS = 2 * 60 * 60 * 1000;

let lastIngestTime = '';
let lastMinute = 0;

/**
 * The whole minute (epoch ms) of an ISO timestamp: a record's `minute` (sources/source.ts OutboxMessage). The
 * records of one commit share their ingestTime, so the last answer is kept: one string compare per record
 * instead of a date parse.
 */
export function minuteOf(iso: string): number {
  if (iso !== lastIngestTime) {
    lastMinute = Math.floor(Date.parse(iso) / 60_000) * 60_000;
    lastIngestTime = iso;
  }
  return lastMinute;
}

/**
 * A frame's counts as `[[dataset, minute, records], …]` JSON, or null when none of its messages is a record.
 * Messages of one commit share their dataset headers object and minute, so this compares references and
 * numbers per message and allocates only per run of equal ones.
 */
export function frameLedger(messages: readonly OutboxMessage[]): string | null {
  const runs: Array<[string, number, number]> = [];
  let headers: Readonly<Record<string, string>> | undefined;
  let minute = -1;
  let run: [string, number, number] | undefined;
  for (const m of messages) {
    if (m.minute === undefined) continue;
    if (run === undefined || m.headers !== headers || m.minute !== minute) {
      headers = m.headers;
      minute = m.minute;
      const dataset = m.headers[KAFKA_HEADERS.dataset] ?? 'unknown';
      run = runs.find((r) => r[0] === dataset && r[1] === minute);
      if (run === undefined) {
        run = [dataset, minute, 0];
        runs.push(run);
      }
    }
    run[2]++;
  }
  return runs.length === 0 ? null : JSON.stringify(runs);
}

export class ShippedLedger {
  readonly #upsert: Database.Statement<[string, number, number, number, number]>;
  readonly #changed: Database.Statement<[number, number], { dataset: string; minute: number; records: number; changed: number }>;
  readonly #reported: Database.Statement<[], { changed: number }>;
  readonly #markReported: Database.Statement<[number]>;
  readonly #prune: Database.Statement<[number]>;
  /** Increases with every add: which rows changed after a report. */
  #change: number;

  constructor(db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS shipped_minutes (
        dataset TEXT NOT NULL,
        minute INTEGER NOT NULL,
        records INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (dataset, minute)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS shipped_minutes_changed ON shipped_minutes (changed);
      CREATE TABLE IF NOT EXISTS ledger_reported (id INTEGER PRIMARY KEY CHECK (id = 1), changed INTEGER NOT NULL);
    `);
    const columns = db.prepare('PRAGMA table_info(frames)').all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'ledger')) db.exec('ALTER TABLE frames ADD COLUMN ledger TEXT');
    this.#upsert = db.prepare(
      `INSERT INTO shipped_minutes (dataset, minute, records, changed, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (dataset, minute) DO UPDATE SET records = records + excluded.records, changed = excluded.changed, updated_at = excluded.updated_at`,
    );
    this.#changed = db.prepare('SELECT dataset, minute, records, changed FROM shipped_minutes WHERE changed > ? ORDER BY changed LIMIT ?');
    this.#reported = db.prepare('SELECT changed FROM ledger_reported WHERE id = 1');
    this.#markReported = db.prepare('INSERT INTO ledger_reported (id, changed) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET changed = max(changed, excluded.changed)');
    this.#prune = db.prepare('DELETE FROM shipped_minutes WHERE updated_at < ? AND changed <= coalesce((SELECT changed FROM ledger_reported WHERE id = 1), 0)');
    // Never below the acknowledged mark: once every row is pruned, a counter restarted from the rows' maximum
    // would number new changes at or under it, and changedSince would never report them.
    this.#change = (
      db.prepare('SELECT max(coalesce((SELECT max(changed) FROM shipped_minutes), 0), coalesce((SELECT changed FROM ledger_reported WHERE id = 1), 0)) AS c').get() as { c: number }
    ).c;
  }

  /** Adds acknowledged frames' counts; the caller runs it inside the transaction deleting them. */
  add(ledgers: ReadonlyArray<string | null | undefined>, now = Date.now()): void {
    const change = ++this.#change;
    for (const ledger of ledgers) {
      if (ledger === null || ledger === undefined) continue;
      for (const [dataset, minute, records] of JSON.parse(ledger) as Array<[string, number, number]>) this.#upsert.run(dataset, minute, records, change, now);
    }
  }

  /**
   * Rows changed since the last acknowledged report, at most `limit`, and the mark to acknowledge once the
   * control plane took them (`markReported(through)`). A cut at `limit` never splits one change.
   */
  changedSince(limit: number): { rows: ShippedMinute[]; through: number } {
    const reported = this.#reported.get()?.changed ?? 0;
    const found = this.#changed.all(reported, limit + 1);
    let rows = found;
    if (found.length > limit) {
      const cut = found[limit - 1]!.changed;
      const whole = found.slice(0, limit).filter((r) => r.changed !== cut || found[limit]!.changed !== cut);
      rows = whole.length > 0 ? whole : found.slice(0, limit);
    }
    const through = rows.length === 0 ? reported : rows[rows.length - 1]!.changed;
    return { rows: rows.map((r) => ({ dataset: r.dataset, minute: r.minute, shipped: r.records })), through };
  }

  markReported(through: number): void {
    this.#markReported.run(through);
  }

  /** Drops rows unchanged for PRUNE_AFTER_MS that were reported. */
  prune(now = Date.now()): number {
    return this.#prune.run(now - PRUNE_AFTER_MS).changes;
  }
}
