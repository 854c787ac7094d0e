/**
 * Check-ins reach PostgreSQL in batches: every `flushMs` one transaction writes what all agents reported
 * since the last one, as a few statements over unnest() arrays whatever the number of agents (10k agents
 * checking in every 10 s are ~10 transactions a second, not 1000).
 *
 *   agents          the latest report per agent (last_seen_at, version, hash, apply state, health, roots)
 *   agent_checkins  the history rows the check-in service chose, then pruned to the newest `historyRows`
 *   ledger_edge     per (agent, dataset, minute) the largest cumulative count seen, upserted with GREATEST
 *   analytics_watermarks  `idle_through` of the streams whose sources the agent reports idle (analytics/finality.ts)
 *
 * Each flush is ONE statement (data-modifying CTEs over the arrays): one round trip, atomic without BEGIN/COMMIT.
 *
 * Ledger rows come with the agent's change number (`ledgerThrough`); once a flush holding them commits,
 * `ackedThrough(agent)` reports it, and the check-in answers with it, so the agent stops resending only what is
 * on disk, without the check-in waiting for the write. A check-in that must be on disk before it is answered
 * (an apply state a rollout gate reads, ledger rows from an agent that sends no change number) calls
 * `flushNow()`: group commit, one flush for everyone waiting, started at once or right after the one in flight.
 * A failed flush keeps its writes for the next one (newer reports win, ledger counts and acknowledgements merge
 * by max), bounded by `maxPending`; what overflows is counted and logged once, and a check-in whose ledger rows
 * overflowed is never acknowledged (the agent sends them again).
 */
import type pg from 'pg';
import type { CheckinHealth } from '@sluice/shared/fleet/checkin';
import type { Logger } from '@sluice/shared/node/logger';

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
  /** Per agent, the change number its ledger rows in this batch go up to. */
  acks: Map<string, number>;
}

const emptyBatch = (): Batch => ({ reports: new Map(), history: [], ledger: new Map(), acks: new Map() });
const MAX_ACKED_AGENTS = 200_000;
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
  /** Per agent, the change number up to which its ledger rows are committed (by this process). */
  readonly #acked = new Map<string, number>();
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

  /** `ledgerThrough`: the agent's change number the ledger rows go up to, acknowledged once they are committed. */
  add(report: AgentReport, history: HistoryRow | undefined, ledger: readonly LedgerWrite[], ledgerThrough?: number): void {
    this.#merge({
      reports: new Map([[report.agentId, report]]),
      history: history ? [history] : [],
      ledger: new Map(ledger.map((row) => [ledgerKey(row), row])),
      acks: new Map(ledgerThrough === undefined ? [] : [[report.agentId, ledgerThrough]]),
    });
  }

  /** The change number up to which the agent's ledger rows are committed, as far as this process knows. */
  ackedThrough(agentId: string): number | undefined {
    return this.#acked.get(agentId);
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
      await this.#write(batch);
      this.flushes += 1;
      if (this.#acked.size + batch.acks.size > MAX_ACKED_AGENTS) this.#acked.clear(); // agents then resend: harmless
      for (const [agentId, through] of batch.acks) this.#acked.set(agentId, Math.max(through, this.#acked.get(agentId) ?? 0));
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
    const overflowed = new Set<string>();
    for (const [key, row] of from.ledger) {
      const held = into.ledger.get(key);
      if (held === undefined && into.ledger.size >= this.#maxPending) {
        this.#drop();
        overflowed.add(row.agentId);
        continue;
      }
      if (held === undefined || held.shipped < row.shipped) into.ledger.set(key, row);
    }
    for (const [agentId, through] of from.acks) {
      if (!overflowed.has(agentId)) into.acks.set(agentId, Math.max(through, into.acks.get(agentId) ?? 0));
    }
  }

  #drop(): void {
    if (this.#dropped === 0) this.#logger?.error({ maxPending: this.#maxPending }, 'check-in writes dropped: PostgreSQL has not taken them for too long');
    this.#dropped += 1;
  }

  /** The batch as one statement: a CTE per part that has rows, so an idle part costs nothing. */
  async #write(batch: Batch): Promise<void> {
    const parts: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${String(params.push(value))}`;
    const reports = [...batch.reports.values()];
    if (reports.length > 0) {
      // A report older than the stored one (another process flushed a newer check-in first) changes nothing.
      parts.push(`reports AS (
        UPDATE agents a SET last_seen_at = u.at, version = u.version, reported_hash = u.hash, apply_state = u.state,
               apply_hash = u.apply_hash, apply_reason = u.reason, health = u.health, allowed_roots = u.roots
        FROM unnest(${param(reports.map((r) => r.agentId))}::text[], ${param(reports.map((r) => r.at))}::timestamptz[], ${param(reports.map((r) => r.version))}::text[],
                    ${param(reports.map((r) => r.reportedHash))}::text[], ${param(reports.map((r) => r.applyState))}::text[], ${param(reports.map((r) => r.applyReason))}::text[],
                    ${param(reports.map((r) => JSON.stringify(r.health)))}::jsonb[], ${param(reports.map((r) => JSON.stringify(r.allowedRoots)))}::jsonb[],
                    ${param(reports.map((r) => r.applyHash))}::text[])
             AS u(id, at, version, hash, state, reason, health, roots, apply_hash)
        WHERE a.id = u.id AND (a.last_seen_at IS NULL OR a.last_seen_at <= u.at)
        RETURNING 1)`);
    }
    const idle = reports.flatMap((r) => idleSources(r));
    if (idle.length > 0) {
      // An idle source whose last committed records have been loaded lets its stream's watermark move on
      // (analytics/finality.ts). The ingest time of a record is taken just before its commit: a second of slack.
      parts.push(`idle AS (
        UPDATE analytics_watermarks w SET idle_through = GREATEST(w.idle_through, u.at)
        FROM unnest(${param(idle.map((r) => r.dataset))}::text[], ${param(idle.map((r) => r.agentId))}::text[], ${param(idle.map((r) => r.sourceId))}::text[],
                    ${param(idle.map((r) => r.at))}::timestamptz[], ${param(idle.map((r) => r.lastCommitAt))}::timestamptz[]) AS u(dataset, agent_id, source_id, at, last_commit_at)
        WHERE w.dataset = u.dataset AND w.agent_id = u.agent_id AND w.source_id = u.source_id
          AND (u.last_commit_at IS NULL OR w.max_ingest_time >= u.last_commit_at - interval '1 second')
        RETURNING 1)`);
    }
    const history = batch.history;
    if (history.length > 0) {
      const agentIds = param(history.map((r) => r.agentId));
      parts.push(`history AS (
        INSERT INTO agent_checkins (agent_id, at, config_hash, apply_state, apply_reason, health, apply_hash)
        SELECT u.* FROM unnest(${agentIds}::text[], ${param(history.map((r) => r.at))}::timestamptz[], ${param(history.map((r) => r.configHash))}::text[],
                               ${param(history.map((r) => r.applyState))}::text[], ${param(history.map((r) => r.applyReason))}::text[],
                               ${param(history.map((r) => JSON.stringify(r.health)))}::jsonb[], ${param(history.map((r) => r.applyHash))}::text[])
             AS u(agent_id, at, config_hash, apply_state, apply_reason, health, apply_hash)
        WHERE EXISTS (SELECT 1 FROM agents WHERE id = u.agent_id)
        RETURNING 1)`);
      // The statement's snapshot does not hold the rows inserted beside it, which are the newest: of the older
      // ones each agent keeps `historyRows` minus its new rows.
      parts.push(`pruned AS (
        DELETE FROM agent_checkins WHERE id IN (
          SELECT id FROM (SELECT c.id, k.fresh, row_number() OVER (PARTITION BY c.agent_id ORDER BY c.at DESC, c.id DESC) AS n
                          FROM agent_checkins c
                          JOIN (SELECT agent_id, count(*) AS fresh FROM unnest(${agentIds}::text[]) AS f(agent_id) GROUP BY agent_id) k USING (agent_id)) ranked
          WHERE n > ${param(this.#historyRows)} - fresh)
        RETURNING 1)`);
    }
    if (batch.ledger.size > 0) {
      const rows = [...batch.ledger.values()];
      parts.push(`ledger AS (
        INSERT INTO ledger_edge (agent_id, dataset, minute, shipped)
        SELECT * FROM unnest(${param(rows.map((r) => r.agentId))}::text[], ${param(rows.map((r) => r.dataset))}::text[], ${param(rows.map((r) => r.minute))}::timestamptz[],
                             ${param(rows.map((r) => r.shipped))}::bigint[])
        ON CONFLICT (agent_id, dataset, minute) DO UPDATE SET shipped = GREATEST(ledger_edge.shipped, EXCLUDED.shipped)
        RETURNING 1)`);
    }
    await this.#pool.query(`WITH ${parts.join(',\n')}\nSELECT 1`, params);
  }
}

/** The sources a check-in reports idle (shared/src/fleet/checkin.ts), for the analytics watermarks. */
function idleSources(r: AgentReport): Array<{ agentId: string; dataset: string; sourceId: string; at: Date; lastCommitAt: string | null }> {
  const sources = (r.health as Partial<CheckinHealth> | null)?.sources ?? [];
  return sources.filter((s) => s.idle === true).map((s) => ({ agentId: r.agentId, dataset: s.dataset, sourceId: s.id, at: r.at, lastCommitAt: s.lastCommitAt ?? null }));
}
