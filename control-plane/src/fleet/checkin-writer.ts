/**
 * Check-ins reach PostgreSQL in batches: every `flushMs` one transaction writes what all agents reported
 * since the last one, as a few statements over unnest() arrays whatever the number of agents (10k agents
 * checking in every 10 s are ~10 transactions a second, not 1000).
 *
 *   agents          the latest report per agent (last_seen_at, version, hash, apply state, health, roots)
 *   agent_checkins  the history rows the check-in service chose, then pruned to the newest `historyRows`
 *   ledger_edge     per (agent, dataset, minute) the largest cumulative count seen, upserted with GREATEST
 *
 * A check-in that must be on disk before it is answered (ledger rows the agent then stops resending, an
 * apply state a rollout gate reads) calls `flushNow()`: group commit, one transaction for everyone waiting,
 * started at once or right after the one in flight. A failed flush keeps its writes for the next one (newer
 * reports win, ledger counts merge by max), bounded by `maxPending`; what overflows is counted and logged once.
 */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import { withTransaction } from '../db/transaction.ts';

export interface AgentReport {
  agentId: string;
  at: Date;
  version: string;
  reportedHash: string | null;
  applyState: string;
  applyHash: string | null;
  applyReason: string | null;
  health: unknown;
  allowedRoots: readonly string[];
}

export interface HistoryRow {
  agentId: string;
  at: Date;
  configHash: string | null;
  applyState: string;
  applyHash: string | null;
  applyReason: string | null;
  health: unknown;
}

export interface LedgerWrite {
  agentId: string;
  dataset: string;
  /** ISO time of a whole minute. */
  minute: string;
  shipped: number;
}

export interface CheckinWriterOptions {
  flushMs?: number;
  /** agent_checkins rows kept per agent (default 50). */
  historyRows?: number;
  /** Pending agents, history rows and ledger rows each held at most (default 100k). */
  maxPending?: number;
  logger?: Logger | undefined;
}

interface Batch {
  reports: Map<string, AgentReport>;
  history: HistoryRow[];
  ledger: Map<string, LedgerWrite>;
}

const emptyBatch = (): Batch => ({ reports: new Map(), history: [], ledger: new Map() });
const ledgerKey = (row: LedgerWrite): string => `${row.agentId}\u0000${row.dataset}\u0000${row.minute}`;

export class CheckinWriter {
  readonly #pool: pg.Pool;
  readonly #flushMs: number;
  readonly #historyRows: number;
  readonly #maxPending: number;
  readonly #logger: Logger | undefined;
  #pending: Batch = emptyBatch();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #again: Promise<void> | undefined;
  #dropped = 0;
  /** Transactions committed; tests and the bench read it. */
  flushes = 0;

  constructor(pool: pg.Pool, options: CheckinWriterOptions = {}) {
    this.#pool = pool;
    this.#flushMs = options.flushMs ?? 1000;
    this.#historyRows = Math.max(1, options.historyRows ?? 50);
    this.#maxPending = options.maxPending ?? 100_000;
    this.#logger = options.logger;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.hasPending) this.flushNow().catch((error: unknown) => this.#logger?.warn({ err: error }, 'check-in flush failed; kept for the next one'));
    }, this.#flushMs);
    this.#timer.unref();
  }

  /** Stops the timer and writes what is pending (a failure is thrown: the caller is shutting down). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.hasPending || this.#flushing) await this.flushNow();
  }

  get hasPending(): boolean {
    return this.#pending.reports.size > 0 || this.#pending.history.length > 0 || this.#pending.ledger.size > 0;
  }

  add(report: AgentReport, history: HistoryRow | undefined, ledger: readonly LedgerWrite[]): void {
    this.#merge({ reports: new Map([[report.agentId, report]]), history: history ? [history] : [], ledger: new Map(ledger.map((row) => [ledgerKey(row), row])) });
  }

  /** Writes everything added so far; resolves when it is committed. */
  flushNow(): Promise<void> {
    if (!this.#flushing) {
      this.#flushing = this.#flush().finally(() => {
        this.#flushing = undefined;
      });
      return this.#flushing;
    }
    // What was added after the running flush took its batch needs one more, shared by all who ask meanwhile.
    this.#again ??= this.#flushing
      .catch(() => undefined)
      .then(() => {
        this.#again = undefined;
        return this.flushNow();
      });
    return this.#again;
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = emptyBatch();
    if (batch.reports.size === 0 && batch.history.length === 0 && batch.ledger.size === 0) return;
    try {
      await withTransaction(this.#pool, (client) => this.#write(client, batch));
      this.flushes += 1;
    } catch (error) {
      // Put back under what arrived meanwhile: a newer report of the same agent wins, counts merge by max.
      const newer = this.#pending;
      this.#pending = batch;
      this.#merge(newer);
      throw error;
    }
  }

  #merge(from: Batch): void {
    const into = this.#pending;
    for (const [id, report] of from.reports) {
      const held = into.reports.get(id);
      if (held === undefined && into.reports.size >= this.#maxPending) {
        this.#drop();
        continue;
      }
      if (held === undefined || held.at <= report.at) into.reports.set(id, report);
    }
    for (const row of from.history) {
      if (into.history.length >= this.#maxPending) this.#drop();
      else into.history.push(row);
    }
    for (const [key, row] of from.ledger) {
      const held = into.ledger.get(key);
      if (held === undefined && into.ledger.size >= this.#maxPending) {
        this.#drop();
        continue;
      }
      if (held === undefined || held.shipped < row.shipped) into.ledger.set(key, row);
    }
  }

  #drop(): void {
    if (this.#dropped === 0) this.#logger?.error({ maxPending: this.#maxPending }, 'check-in writes dropped: PostgreSQL has not taken them for too long');
    this.#dropped += 1;
  }

  async #write(client: pg.PoolClient, batch: Batch): Promise<void> {
    const reports = [...batch.reports.values()];
    if (reports.length > 0) {
      // A report older than the stored one (another process flushed a newer check-in first) changes nothing.
      await client.query(
        `UPDATE agents a SET last_seen_at = u.at, version = u.version, reported_hash = u.hash, apply_state = u.state,
                apply_hash = u.apply_hash, apply_reason = u.reason, health = u.health, allowed_roots = u.roots
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[])
              AS u(id, at, version, hash, state, reason, health, roots, apply_hash)
         WHERE a.id = u.id AND (a.last_seen_at IS NULL OR a.last_seen_at <= u.at)`,
        [
          reports.map((r) => r.agentId),
          reports.map((r) => r.at),
          reports.map((r) => r.version),
          reports.map((r) => r.reportedHash),
          reports.map((r) => r.applyState),
          reports.map((r) => r.applyReason),
          reports.map((r) => JSON.stringify(r.health)),
          reports.map((r) => JSON.stringify(r.allowedRoots)),
          reports.map((r) => r.applyHash),
        ],
      );
    }
    if (batch.history.length > 0) {
      const rows = batch.history;
      await client.query(
        `INSERT INTO agent_checkins (agent_id, at, config_hash, apply_state, apply_reason, health, apply_hash)
         SELECT u.* FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
              AS u(agent_id, at, config_hash, apply_state, apply_reason, health, apply_hash)
         WHERE EXISTS (SELECT 1 FROM agents WHERE id = u.agent_id)`,
        [
          rows.map((r) => r.agentId),
          rows.map((r) => r.at),
          rows.map((r) => r.configHash),
          rows.map((r) => r.applyState),
          rows.map((r) => r.applyReason),
          rows.map((r) => JSON.stringify(r.health)),
          rows.map((r) => r.applyHash),
        ],
      );
      await client.query(
        `DELETE FROM agent_checkins WHERE id IN (
           SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY agent_id ORDER BY at DESC, id DESC) AS n
                           FROM agent_checkins WHERE agent_id = ANY($1::text[])) ranked
           WHERE n > $2)`,
        [[...new Set(rows.map((r) => r.agentId))], this.#historyRows],
      );
    }
    if (batch.ledger.size > 0) {
      const rows = [...batch.ledger.values()];
      await client.query(
        `INSERT INTO ledger_edge (agent_id, dataset, minute, shipped)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[])
         ON CONFLICT (agent_id, dataset, minute) DO UPDATE SET shipped = GREATEST(ledger_edge.shipped, EXCLUDED.shipped)`,
        [rows.map((r) => r.agentId), rows.map((r) => r.dataset), rows.map((r) => r.minute), rows.map((r) => r.shipped)],
      );
    }
  }
}
