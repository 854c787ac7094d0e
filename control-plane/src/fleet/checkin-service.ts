/**
 * The server side of the check-in (shared/src/fleet/checkin.ts). An unchanged check-in is answered from
 * memory: the agent's desired revision id is cached until a fleet event says it changed, and a revision is
 * immutable, so it is cached by id forever. Reports go to the batched writer (checkin-writer.ts); only a
 * check-in that changes the agent's hash or apply state waits for its write (and one with ledger rows but no
 * `ledgerThrough`, from an agent that predates acknowledgements). Ledger rows with a change number are
 * acknowledged by `ledgerAckedThrough` once a flush has committed them: usually in this answer when it was
 * held (a long-poll outlasts the writer's flush interval), else in the next one.
 *
 * Long-poll: when there is nothing to send (the agent runs its desired hash, or has none) and the agent asked
 * to wait, the answer is held until a 'desired-changed' event names the agent (or all agents), the agent is
 * changed (revoked: its next request is refused), the wait ends, or the server closes.
 *
 *   nextCheckinSeconds = max(0, interval − seconds held): an agent checking in on this hint reports about
 *   every `interval` seconds, and re-polls at once after a full long-poll.
 */
import type pg from 'pg';
import type { CheckinRequest, CheckinResponse, DesiredRevision, PipelineWire } from '@sluice/shared/fleet/checkin';
import type { FleetEvents } from './fleet-events.ts';
import type { CheckinWriter, HistoryRow } from './checkin-writer.ts';

/** An immutable policy revision as an agent receives it. */
export interface ServedRevision {
  id: number;
  policy: string;
  number: number;
  hash: string;
  /** The defaulted pipeline, `{ sources }`. */
  config: PipelineWire;
}

/** Where revisions come from (policy_revisions); an interface so the check-in never depends on how policies are stored. */
export interface RevisionSource {
  byId(id: number): Promise<ServedRevision | undefined>;
}

export function sqlRevisionSource(pool: pg.Pool): RevisionSource {
  return {
    async byId(id) {
      const found = await pool.query<{ id: string; policy: string; number: number; hash: string; config: PipelineWire }>(
        'SELECT id, policy, number, hash, config FROM policy_revisions WHERE id = $1',
        [id],
      );
      const row = found.rows[0];
      return row ? { id: Number(row.id), policy: row.policy, number: row.number, hash: row.hash, config: row.config } : undefined;
    },
  };
}

export interface CheckinServiceOptions {
  /** Longest hold of a long-poll (SLUICE_CHECKIN_MAX_WAIT_SECONDS, default 30). */
  maxWaitSeconds?: number;
  /** How often an agent should report when nothing changes (SLUICE_CHECKIN_INTERVAL_SECONDS, default 10). */
  intervalSeconds?: number;
  /** At most one history row per agent this often unless its hash or apply state changed (default 60). */
  historySeconds?: number;
  now?: () => number;
}

interface Reported {
  hash: string | null;
  applyState: string;
  applyHash: string | null;
  historyAt: number;
}

const MAX_CACHED_AGENTS = 200_000;

export class CheckinService {
  readonly #pool: pg.Pool;
  readonly #events: FleetEvents;
  readonly #writer: CheckinWriter;
  readonly #revisions: RevisionSource;
  readonly #maxWaitMs: number;
  readonly #intervalSeconds: number;
  readonly #historyMs: number;
  readonly #now: () => number;
  /** Desired revision id per agent (null: none), valid while fleet events are received. */
  readonly #desired = new Map<string, number | null>();
  readonly #revisionCache = new Map<number, ServedRevision>();
  readonly #reported = new Map<string, Reported>();
  readonly #waiters = new Map<string, Set<(end: boolean) => void>>();
  /** Bumped by every event: a read that raced one is not cached, and a long-poll that missed one re-answers. */
  #epoch = 0;
  #closing = false;

  constructor(pool: pg.Pool, events: FleetEvents, writer: CheckinWriter, revisions: RevisionSource, options: CheckinServiceOptions = {}) {
    this.#pool = pool;
    this.#events = events;
    this.#writer = writer;
    this.#revisions = revisions;
    this.#maxWaitMs = Math.max(0, options.maxWaitSeconds ?? 30) * 1000;
    this.#intervalSeconds = options.intervalSeconds ?? 10;
    this.#historyMs = (options.historySeconds ?? 60) * 1000;
    this.#now = options.now ?? Date.now;
    events.on((event) => {
      if (event.kind === 'resync' || event.kind === 'desired-changed' || event.kind === 'agent-changed') this.#epoch += 1;
      if (event.kind === 'resync') {
        this.#desired.clear();
        this.#wake(undefined, false);
      } else if (event.kind === 'desired-changed' || event.kind === 'agent-changed') {
        if (event.agentIds === undefined) this.#desired.clear();
        else for (const id of event.agentIds) this.#desired.delete(id);
        // A changed agent (revoked, restarted elsewhere) gets its answer now; its next request is judged afresh.
        this.#wake(event.agentIds, event.kind === 'agent-changed');
      }
    });
  }

  async checkin(agentId: string, body: CheckinRequest, closed?: AbortSignal): Promise<CheckinResponse> {
    const started = this.#now();
    await this.#record(agentId, body, started);
    let seen = this.#epoch;
    let answer = await this.#answer(agentId, body.config.hash);
    const waitMs = Math.min((body.waitSeconds ?? 0) * 1000, this.#maxWaitMs);
    const deadline = started + waitMs;
    let ended = false;
    while (answer.config === undefined && !ended && !this.#closing && closed?.aborted !== true && this.#now() < deadline) {
      // An event between the answer and this wait was not heard by it: answer again instead of waiting.
      if (seen === this.#epoch) ended = await this.#waitForChange(agentId, deadline - this.#now(), closed);
      seen = this.#epoch;
      answer = await this.#answer(agentId, body.config.hash);
    }
    const heldSeconds = Math.floor((this.#now() - started) / 1000);
    const acked = body.ledgerThrough === undefined ? {} : { ledgerAckedThrough: this.#writer.ackedThrough(agentId) ?? 0 };
    return { agentId, ...answer, nextCheckinSeconds: Math.max(0, this.#intervalSeconds - heldSeconds), ...acked };
  }

  /** The agent's own desired revision and its full pipeline (GET /agent/config). */
  async desiredOf(agentId: string): Promise<{ desired: DesiredRevision; config: PipelineWire | null }> {
    const revision = await this.#desiredRevision(agentId);
    return revision ? { desired: desiredView(revision), config: revision.config } : { desired: null, config: null };
  }

  /** Ends every held long-poll now and any later one at once (the server is closing). */
  close(): void {
    this.#closing = true;
    this.#wake(undefined, true);
  }

  async #answer(agentId: string, runningHash: string | null): Promise<Omit<CheckinResponse, 'agentId' | 'nextCheckinSeconds'>> {
    const revision = await this.#desiredRevision(agentId);
    if (!revision) return { desired: null };
    return revision.hash === runningHash ? { desired: desiredView(revision) } : { desired: desiredView(revision), config: revision.config };
  }

  async #desiredRevision(agentId: string): Promise<ServedRevision | undefined> {
    let id = this.#events.connected ? this.#desired.get(agentId) : undefined;
    if (id === undefined) {
      const epoch = this.#epoch;
      const found = await this.#pool.query<{ desired_revision_id: string | null }>('SELECT desired_revision_id FROM agents WHERE id = $1', [agentId]);
      const raw = found.rows[0]?.desired_revision_id ?? null;
      id = raw === null ? null : Number(raw);
      if (this.#desired.size >= MAX_CACHED_AGENTS) this.#desired.clear();
      if (epoch === this.#epoch) this.#desired.set(agentId, id);
    }
    if (id === null) return undefined;
    let revision = this.#revisionCache.get(id);
    if (!revision) {
      revision = await this.#revisions.byId(id);
      if (!revision) return undefined;
      if (this.#revisionCache.size >= 10_000) this.#revisionCache.clear();
      this.#revisionCache.set(id, revision);
    }
    return revision;
  }

  async #record(agentId: string, body: CheckinRequest, now: number): Promise<void> {
    const at = new Date(now);
    const previous = this.#reported.get(agentId);
    const changed = previous === undefined || previous.hash !== body.config.hash || previous.applyState !== body.apply.state || previous.applyHash !== body.apply.hash;
    const historyDue = changed || now - previous.historyAt >= this.#historyMs;
    const applyReason = body.apply.reason ?? null;
    const history: HistoryRow | undefined = historyDue
      ? { agentId, at, configHash: body.config.hash, applyState: body.apply.state, applyHash: body.apply.hash, applyReason, health: body.health }
      : undefined;
    if (this.#reported.size >= MAX_CACHED_AGENTS && previous === undefined) this.#reported.clear();
    this.#reported.set(agentId, { hash: body.config.hash, applyState: body.apply.state, applyHash: body.apply.hash, historyAt: historyDue ? now : previous.historyAt });
    this.#writer.add(
      {
        agentId,
        at,
        version: body.version,
        reportedHash: body.config.hash,
        applyState: body.apply.state,
        applyHash: body.apply.hash,
        applyReason,
        health: body.health,
        allowedRoots: body.allowedRoots,
      },
      history,
      body.ledger.map((row) => ({ agentId, dataset: row.dataset, minute: new Date(row.minute).toISOString(), shipped: row.shipped })),
      body.ledgerThrough,
    );
    // Rollout gates read apply states from PostgreSQL; an agent without change numbers stops resending the
    // ledger rows of any answered check-in, so those must be written first.
    if (changed || (body.ledger.length > 0 && body.ledgerThrough === undefined)) {
      try {
        await this.#writer.flushNow();
      } catch (error) {
        // Not acknowledged: the agent reports again (the writer keeps this report for its next flush too).
        this.#reported.delete(agentId);
        throw error;
      }
    }
  }

  /** Resolves true when the poll should end whatever the answer (the agent changed, the server closes). */
  #waitForChange(agentId: string, ms: number, closed: AbortSignal | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      const set = this.#waiters.get(agentId) ?? new Set<(end: boolean) => void>();
      this.#waiters.set(agentId, set);
      const done = (end: boolean): void => {
        clearTimeout(timer);
        closed?.removeEventListener('abort', aborted);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(agentId) === set) this.#waiters.delete(agentId);
        resolve(end);
      };
      const aborted = (): void => done(true);
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      closed?.addEventListener('abort', aborted, { once: true });
      set.add(done);
    });
  }

  #wake(agentIds: readonly string[] | undefined, end: boolean): void {
    const sets = agentIds === undefined ? [...this.#waiters.values()] : agentIds.flatMap((id) => this.#waiters.get(id) ?? []);
    for (const set of sets) for (const done of [...set]) done(end);
  }
}

function desiredView(revision: ServedRevision): NonNullable<DesiredRevision> {
  return { revision: { policy: revision.policy, number: revision.number, id: revision.id }, hash: revision.hash };
}
