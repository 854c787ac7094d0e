/**
 * Drives running rollouts: every tick (SLUICE_ROLLOUT_TICK_MS) each running or rolling-back rollout is
 * looked at in a transaction of its own that first takes `pg_try_advisory_xact_lock` on it, so of several
 * control-plane processes one steps it and the others skip it (no wave opens twice, no gate is judged twice).
 * The engine keeps nothing in memory: inputs are the check-ins B's writer stored (agents, agent_checkins)
 * and the rollout's own rows, so a restarted control plane carries on where the last step left it.
 */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import { evaluateGate, type AgentBaseline, type GateAgentInput, type GateHealth } from '@sluice/shared/fleet/rollout-gate';
import type { RolloutEvent } from '@sluice/shared/fleet/rollout';
import { withTransaction } from '../db/transaction.ts';
import { SYSTEM_ACTOR } from '../operators/audit.ts';
import { PeriodicTask } from '../periodic-task.ts';
import { statusOf, type RolloutRow, type RolloutStore } from './rollout-store.ts';

export interface RolloutEngineOptions {
  tickMs?: number;
  now?: () => number;
  logger?: Logger | undefined;
  /** Called after a failed gate's rollback committed (the sluice_fleet_rollbacks_total{reason="automatic"} count). */
  onRollback?: ((reason: 'automatic') => void) | undefined;
}

const FAILED = new Set(['failed', 'rolled-back']);

export class RolloutEngine {
  readonly #pool: pg.Pool;
  readonly #store: RolloutStore;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  readonly #onRollback: ((reason: 'automatic') => void) | undefined;
  readonly #task: PeriodicTask;

  constructor(pool: pg.Pool, store: RolloutStore, options: RolloutEngineOptions = {}) {
    this.#pool = pool;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
    this.#onRollback = options.onRollback;
    this.#task = new PeriodicTask({
      intervalMs: options.tickMs ?? 1000,
      run: () => this.tick(),
      onError: (error) => this.#logger?.error({ err: error }, 'rollout tick failed; retrying next tick'),
    });
  }

  start(): void {
    this.#task.start();
  }

  async stop(): Promise<void> {
    await this.#task.stop();
  }

  /** One pass over the rollouts that need the engine; answers the ids of those it stepped. */
  async tick(): Promise<number[]> {
    const due = await this.#pool.query<{ id: string }>("SELECT id FROM rollouts WHERE state IN ('running', 'rolling-back') ORDER BY id");
    const stepped: number[] = [];
    for (const { id } of due.rows) {
      try {
        const result = await this.#tickOne(id);
        if (result !== false) stepped.push(Number(id));
        if (result === 'rolled-back') this.#onRollback?.('automatic');
      } catch (error) {
        this.#logger?.error({ err: error, rollout: id }, 'rollout step failed; retrying next tick');
      }
    }
    return stepped;
  }

  /** Whether the rollout stepped; 'rolled-back' when its gate failed and the rollback began. */
  async #tickOne(id: string): Promise<boolean | 'rolled-back'> {
    return withTransaction(this.#pool, async (client) => {
      const lock = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema() || '/rollout/' || $1, 0)) AS locked", [id]);
      if (lock.rows[0]?.locked !== true) return false;
      const row = (
        await client.query<RolloutRow>(
          `SELECT ro.*, f.hash AS from_hash, t.hash AS to_hash FROM rollouts ro LEFT JOIN policy_revisions f ON f.id = ro.from_revision_id
           JOIN policy_revisions t ON t.id = ro.to_revision_id WHERE ro.id = $1 FOR UPDATE OF ro`,
          [id],
        )
      ).rows[0];
      if (!row) return false;
      const now = this.#now();
      if (row.state === 'rolling-back') return this.#checkReverted(client, row, now);
      if (row.state !== 'running' || row.strategy.kind !== 'staged') return false;
      const agents = await gateInputs(client, row);
      const status = statusOf(row);
      const report = evaluateGate({ now, phase: status.phase, phaseStartedAt: status.phaseStartedAt, soakSeconds: row.strategy.soakSeconds, settings: row.strategy.gate, targetHash: row.to_hash, agents });
      let event: RolloutEvent | undefined;
      if (report.verdict === 'applied') event = { kind: 'wave-applied', now };
      else if (report.verdict === 'pass') event = { kind: 'gate-passed', now };
      else if (report.verdict === 'fail') event = { kind: 'gate-failed', now, reason: `the health gate of wave ${row.wave} failed: ${report.reason ?? ''}` };
      if (event === undefined) {
        await client.query('UPDATE rollouts SET gate_report = $2 WHERE id = $1', [id, JSON.stringify(report)]);
        return false;
      }
      if (event.kind === 'wave-applied') await captureSoakStart(client, id, row.wave);
      await this.#store.step(client, id, event, { actor: SYSTEM_ACTOR }, report);
      this.#logger?.info({ rollout: id, policy: row.policy, event: event.kind, wave: row.wave, reason: report.reason }, 'rollout stepped');
      return event.kind === 'gate-failed' ? 'rolled-back' : true;
    });
  }

  /** rolling-back ends when every reverted agent runs `from` again, or after the apply timeout. */
  async #checkReverted(client: pg.ClientBase, row: RolloutRow, now: number): Promise<boolean> {
    const timeoutMs = (row.strategy.kind === 'staged' ? row.strategy.gate.applyTimeoutSeconds : 180) * 1000;
    const pending = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM rollout_agents ra JOIN agents a ON a.id = ra.agent_id
       WHERE ra.rollout_id = $1 AND ra.wave <= $2 AND a.status = 'active' AND a.desired_revision_id = $4 AND a.reported_hash IS DISTINCT FROM $3`,
      [row.id, row.wave, row.from_hash, row.from_revision_id],
    );
    if (Number(pending.rows[0]?.n ?? 0) > 0 && now - row.wave_started_at.getTime() < timeoutMs) return false;
    await this.#store.step(client, row.id, { kind: 'reverted', now }, { actor: SYSTEM_ACTOR });
    return true;
  }
}

/** Every agent of the opened waves, as the gate sees it. */
async function gateInputs(client: pg.ClientBase, row: RolloutRow): Promise<GateAgentInput[]> {
  const found = await client.query<{
    agent_id: string;
    baseline: AgentBaseline | null;
    soak_start: GateHealth | null;
    last_seen_at: Date | null;
    reported_hash: string | null;
    apply_state: string | null;
    apply_hash: string | null;
    apply_reason: string | null;
    health: GateHealth | null;
    status: string | null;
    desired_revision_id: string | null;
  }>(
    `SELECT ra.agent_id, ra.baseline, ra.soak_start, a.last_seen_at, a.reported_hash, a.apply_state, a.apply_hash, a.apply_reason, a.health, a.status, a.desired_revision_id
     FROM rollout_agents ra LEFT JOIN agents a ON a.id = ra.agent_id WHERE ra.rollout_id = $1 AND ra.wave <= $2 ORDER BY ra.wave, ra.agent_id`,
    [row.id, row.wave],
  );
  // Revoked agents are gone from the fleet, and an agent whose labels moved it to another policy no longer
  // runs this one: neither holds nor fails the gate.
  const rows = found.rows.filter((r) => r.status === 'active' && r.desired_revision_id === row.to_revision_id);
  const since = Math.min(...rows.map((r) => r.baseline?.at ?? row.wave_started_at.getTime()));
  // Only a failure about the target hash counts (apply_hash: on failed / rolled-back, the hash that failed),
  // reported since the agent's wave opened: one the agent still reports about another revision (an earlier
  // rollout) is not this rollout's, while a new failure of the target counts whatever its reason.
  const failures = await client.query<{ agent_id: string; at: Date; apply_state: string; apply_reason: string | null }>(
    `SELECT agent_id, at, apply_state, apply_reason FROM agent_checkins
     WHERE agent_id = ANY($1::text[]) AND at >= $2 AND apply_state IN ('failed', 'rolled-back') AND apply_hash = $3 ORDER BY at`,
    [rows.map((r) => r.agent_id), new Date(Number.isFinite(since) ? since : row.wave_started_at.getTime()), row.to_hash],
  );
  return rows.map((r) => {
    const openedAt = r.baseline?.at ?? row.wave_started_at.getTime();
    const failsTarget = r.apply_state !== null && FAILED.has(r.apply_state) && r.apply_hash === row.to_hash && r.last_seen_at !== null && r.last_seen_at.getTime() >= openedAt;
    const reported = failures.rows.find((f) => f.agent_id === r.agent_id && f.at.getTime() >= openedAt) ?? (failsTarget ? { apply_state: r.apply_state as string, apply_reason: r.apply_reason } : undefined);
    return {
      agentId: r.agent_id,
      lastSeenAt: r.last_seen_at?.getTime() ?? null,
      reportedHash: r.reported_hash,
      applyState: r.apply_state,
      failure: reported === undefined ? undefined : `${reported.apply_state}${reported.apply_reason ? ` (${reported.apply_reason})` : ''}`,
      baseline: r.baseline,
      soakStart: r.soak_start,
      current: r.health,
    };
  });
}

/** The health each opened agent last reported, as the start of the soak it is now measured over. */
async function captureSoakStart(client: pg.ClientBase, rolloutId: string, wave: number): Promise<void> {
  await client.query(
    `UPDATE rollout_agents ra SET soak_start = a.health FROM agents a WHERE ra.rollout_id = $1 AND ra.wave <= $2 AND a.id = ra.agent_id`,
    [rolloutId, wave],
  );
}
