/**
 * Rollouts in PostgreSQL: start, the operator's pause / resume / abort / rollback, and `step`, which the
 * engine (rollout-engine.ts) and the operator's actions share: it runs one transition of the pure machine
 * (shared/src/fleet/rollout.ts) on the row locked FOR UPDATE and performs its effects in the same
 * transaction (desired revisions through assignment.ts, audit, fleet events). So a step is all or nothing,
 * and a control plane restarted at any moment carries on from the row.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { RolloutView } from '@sluice/shared/api/policies';
import { ConflictError, InputError, NotFoundError } from '@sluice/shared/errors';
import {
  GATE_DEFAULTS,
  isActive,
  planWaves,
  RolloutTransitionError,
  transition,
  type GateSettings,
  type RolloutEvent,
  type RolloutPhase,
  type RolloutState,
  type RolloutStatus,
  type RolloutStrategy,
  type StagedStrategy,
} from '@sluice/shared/fleet/rollout';
import { baselineOf, type GateHealth } from '@sluice/shared/fleet/rollout-gate';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit } from '../operators/audit.ts';
import { choosePolicy, loadPolicies, reassignAgents } from './assignment.ts';
import { notifyFleet } from './fleet-events.ts';
import type { Caller } from './policy-store.ts';

/** A staged strategy with every default filled in (stored so a restart reads the same settings). */
export interface NormalizedStaged {
  kind: 'staged';
  canary: StagedStrategy['canary'];
  waves: Array<{ percent: number }>;
  soakSeconds: number;
  gate: GateSettings;
}
export type NormalizedStrategy = { kind: 'all' } | NormalizedStaged;

export function normalizeStrategy(strategy: RolloutStrategy): NormalizedStrategy {
  if (strategy.kind === 'all') return { kind: 'all' };
  return { kind: 'staged', canary: strategy.canary, waves: strategy.waves ?? [{ percent: 100 }], soakSeconds: strategy.soakSeconds ?? 300, gate: { ...GATE_DEFAULTS, ...strategy.gate } };
}

export interface RolloutRow {
  id: string;
  policy: string;
  from_revision_id: string | null;
  to_revision_id: string;
  from_number: number | null;
  to_number: number;
  from_hash: string | null;
  to_hash: string;
  strategy: NormalizedStrategy;
  state: RolloutState;
  wave: number;
  wave_count: number;
  phase: RolloutPhase;
  wave_started_at: Date;
  gate_report: unknown;
  reason: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const ROLLOUT_SELECT = `SELECT ro.*, f.number AS from_number, f.hash AS from_hash, t.number AS to_number, t.hash AS to_hash
  FROM rollouts ro LEFT JOIN policy_revisions f ON f.id = ro.from_revision_id JOIN policy_revisions t ON t.id = ro.to_revision_id`;

export const statusOf = (row: RolloutRow): RolloutStatus => ({
  state: row.state,
  wave: row.wave,
  waveCount: row.wave_count,
  phase: row.phase,
  phaseStartedAt: row.wave_started_at.getTime(),
  reason: row.reason ?? undefined,
});

/** The order waves take agents in: by a hash of the id, so it is the same after a restart and not by name. */
export const waveOrder = (ids: readonly string[]): string[] =>
  [...ids].sort((a, b) => {
    const ha = createHash('sha256').update(a).digest('hex');
    const hb = createHash('sha256').update(b).digest('hex');
    return ha < hb ? -1 : ha > hb ? 1 : 0;
  });

const AUDITED: Partial<Record<RolloutEvent['kind'], string>> = {
  start: 'rollout.start',
  'gate-passed': 'rollout.advance',
  'gate-failed': 'rollout.rollback',
  pause: 'rollout.pause',
  resume: 'rollout.resume',
  abort: 'rollout.abort',
  rollback: 'rollout.rollback',
};

export interface RolloutStoreOptions {
  now?: () => number;
  /** Called after an operator's rollback committed (the sluice_fleet_rollbacks_total{reason="manual"} count). */
  onRollback?: ((reason: 'manual') => void) | undefined;
}

export class RolloutStore {
  readonly #pool: pg.Pool;
  readonly #now: () => number;
  readonly #onRollback: ((reason: 'manual') => void) | undefined;

  constructor(pool: pg.Pool, options: RolloutStoreOptions = {}) {
    this.#pool = pool;
    this.#now = options.now ?? Date.now;
    this.#onRollback = options.onRollback;
  }

  async start(policy: string, body: { revision: number; strategy: RolloutStrategy }, caller: Caller): Promise<RolloutView> {
    const strategy = normalizeStrategy(body.strategy);
    const id = await withTransaction(this.#pool, async (client) => {
      const locked = await client.query<{ current_revision_id: string | null }>('SELECT current_revision_id FROM policies WHERE name = $1 FOR UPDATE', [policy]);
      const row = locked.rows[0];
      if (!row) throw NotFoundError(`policy ${policy} does not exist`);
      const target = (await client.query<{ id: string }>('SELECT id FROM policy_revisions WHERE policy = $1 AND number = $2', [policy, body.revision])).rows[0];
      if (!target) throw NotFoundError(`policy ${policy} has no revision ${body.revision}`);
      if (target.id === row.current_revision_id) throw ConflictError(`revision ${body.revision} is already the current revision of policy ${policy}`);
      const active = await client.query<{ id: string; state: string }>(`SELECT id, state FROM rollouts WHERE policy = $1 AND state IN ('pending', 'running', 'paused', 'rolling-back')`, [policy]);
      if (active.rows[0]) throw ConflictError(`policy ${policy} has an active rollout (${active.rows[0].id}, ${active.rows[0].state}): pause, abort or wait for it first`);

      const policies = await loadPolicies(client);
      const asCurrent = policies.map((p) => (p.name === policy ? { ...p, currentRevisionId: p.currentRevisionId ?? Number(target.id) } : p));
      const agents = await client.query<{ id: string; labels: Record<string, string> }>("SELECT id, labels FROM agents WHERE status = 'active'");
      const selected = agents.rows.filter((a) => choosePolicy(asCurrent, a.labels)?.name === policy).map((a) => a.id);
      let waves: string[][] = [];
      if (strategy.kind === 'staged') {
        if ('agents' in strategy.canary) {
          const unknown = strategy.canary.agents.map((agent, i) => ({ agent, i })).filter(({ agent }) => !selected.includes(agent));
          if (unknown.length > 0) throw InputError(unknown.map(({ agent, i }) => `strategy.canary.agents[${i}]: agent ${agent} is not an active agent of policy ${policy}`).join('\n'), unknown);
        }
        waves = planWaves(waveOrder(selected), strategy);
      }
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO rollouts (policy, from_revision_id, to_revision_id, strategy, state, wave_count, created_by, wave_started_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) RETURNING id`,
        [policy, row.current_revision_id, target.id, JSON.stringify(strategy), strategy.kind === 'all' ? 0 : waves.length, `${caller.actor.kind}:${caller.actor.name ?? caller.actor.id}`, new Date(this.#now())],
      );
      const rolloutId = (inserted.rows[0] as { id: string }).id;
      if (waves.length > 0) {
        await client.query(
          'INSERT INTO rollout_agents (rollout_id, agent_id, wave) SELECT $1, u.agent, u.wave FROM unnest($2::text[], $3::int[]) AS u(agent, wave)',
          [rolloutId, waves.flat(), waves.flatMap((wave, i) => wave.map(() => i))],
        );
      }
      await this.#step(client, rolloutId, { kind: 'start', now: this.#now() }, caller);
      return rolloutId;
    });
    return this.get(Number(id));
  }

  async get(id: number): Promise<RolloutView> {
    const row = await this.#row(this.#pool, id);
    if (!row) throw NotFoundError(`rollout ${id} does not exist`);
    const agents = await this.#pool.query<{ agent_id: string; wave: number }>('SELECT agent_id, wave FROM rollout_agents WHERE rollout_id = $1 ORDER BY wave, agent_id', [id]);
    return viewOf(row, agents.rows);
  }

  async list(policy: string): Promise<RolloutView[]> {
    const found = await this.#pool.query<RolloutRow>(`${ROLLOUT_SELECT} WHERE ro.policy = $1 ORDER BY ro.id DESC LIMIT 100`, [policy]);
    return found.rows.map((row) => viewOf(row, []));
  }

  /** The operator's actions on a rollout. */
  async act(id: number, action: 'pause' | 'resume' | 'abort' | 'rollback', caller: Caller): Promise<RolloutView> {
    const who = caller.actor.name ?? caller.actor.id;
    const event: RolloutEvent =
      action === 'abort' ? { kind: 'abort', now: this.#now(), reason: `aborted by ${who}` } : action === 'rollback' ? { kind: 'rollback', now: this.#now(), reason: `rolled back by ${who}` } : { kind: action, now: this.#now() };
    await withTransaction(this.#pool, async (client) => {
      if (action === 'rollback') await this.#assertRollbackable(client, id);
      await this.#step(client, String(id), event, caller);
    });
    if (action === 'rollback') this.#onRollback?.('manual');
    return this.get(id);
  }

  /**
   * Returns a policy at once to an earlier revision: it becomes current and every agent of the policy gets
   * it. An active rollout of the policy ends as aborted (its agents follow the policy's new current).
   */
  async rollbackPolicy(policy: string, number: number, caller: Caller): Promise<{ policy: string; currentRevision: number }> {
    await withTransaction(this.#pool, async (client) => {
      const locked = await client.query<{ current_number: number | null }>(
        'SELECT r.number AS current_number FROM policies p LEFT JOIN policy_revisions r ON r.id = p.current_revision_id WHERE p.name = $1 FOR UPDATE OF p',
        [policy],
      );
      const row = locked.rows[0];
      if (!row) throw NotFoundError(`policy ${policy} does not exist`);
      const target = (await client.query<{ id: string }>('SELECT id FROM policy_revisions WHERE policy = $1 AND number = $2', [policy, number])).rows[0];
      if (!target) throw NotFoundError(`policy ${policy} has no revision ${number}`);
      if (row.current_number === null || number >= row.current_number) throw InputError(`revision: must be earlier than the current revision ${row.current_number ?? '(none)'} of policy ${policy}`);
      const active = await client.query<{ id: string }>(`SELECT id FROM rollouts WHERE policy = $1 AND state IN ('pending', 'running', 'paused', 'rolling-back')`, [policy]);
      for (const rollout of active.rows) {
        await client.query(`UPDATE rollouts SET state = 'aborted', reason = $2, updated_at = now(), finished_at = now() WHERE id = $1`, [rollout.id, `superseded by the rollback of policy ${policy} to revision ${number}`]);
      }
      await client.query('UPDATE policies SET current_revision_id = $2 WHERE name = $1', [policy, target.id]);
      await reassignAgents(client);
      await recordAudit(client, { actor: caller.actor, action: 'policy.rollback', target: { kind: 'policy', id: policy }, before: { currentRevision: row.current_number }, after: { currentRevision: number }, requestId: caller.requestId });
      await notifyFleet(client, { kind: 'rollout-changed' });
    });
    this.#onRollback?.('manual');
    return { policy, currentRevision: number };
  }

  /** One transition on the locked row, with its effects; a refused transition is a 409. Answers the new row. */
  async step(client: pg.ClientBase, id: string, event: RolloutEvent, caller: Caller, gateReport?: unknown): Promise<RolloutRow> {
    return this.#step(client, id, event, caller, gateReport);
  }

  async #step(client: pg.ClientBase, id: string, event: RolloutEvent, caller: Caller, gateReport?: unknown): Promise<RolloutRow> {
    const locked = await client.query<RolloutRow>(`${ROLLOUT_SELECT} WHERE ro.id = $1 FOR UPDATE OF ro`, [id]);
    const row = locked.rows[0];
    if (!row) throw NotFoundError(`rollout ${id} does not exist`);
    let next: ReturnType<typeof transition>;
    try {
      next = transition(statusOf(row), event);
    } catch (error) {
      if (error instanceof RolloutTransitionError) throw ConflictError(`rollout ${id}: ${error.message}`);
      throw error;
    }
    const { status, effects } = next;
    await client.query(
      `UPDATE rollouts SET state = $2, wave = $3, phase = $4, wave_started_at = $5, reason = $6, updated_at = now(),
              gate_report = COALESCE($7, gate_report), finished_at = CASE WHEN $8 THEN now() ELSE NULL END
       WHERE id = $1`,
      [id, status.state, status.wave, status.phase, new Date(status.phaseStartedAt), status.reason ?? null, gateReport === undefined ? null : JSON.stringify(gateReport), !isActive(status.state)],
    );
    const settings = row.strategy.kind === 'staged' ? row.strategy.gate : GATE_DEFAULTS;
    for (const effect of effects) {
      if (effect.kind === 'open-wave') {
        const ids = await this.#waveAgents(client, id, effect.wave, effect.wave);
        await captureBaselines(client, id, ids, settings, event.now);
        await reassignAgents(client, ids);
      } else if (effect.kind === 'revert') {
        const wasCurrent = await client.query('UPDATE policies SET current_revision_id = $2 WHERE name = $1 AND current_revision_id = $3', [row.policy, row.from_revision_id, row.to_revision_id]);
        if ((wasCurrent.rowCount ?? 0) > 0) await reassignAgents(client);
        else await reassignAgents(client, await this.#waveAgents(client, id, 0, effect.upToWave));
      } else {
        await client.query('UPDATE policies SET current_revision_id = $2 WHERE name = $1', [row.policy, row.to_revision_id]);
        await reassignAgents(client);
      }
    }
    const action = AUDITED[event.kind] === 'rollout.advance' && status.state === 'completed' ? 'rollout.complete' : AUDITED[event.kind];
    if (action !== undefined) {
      await recordAudit(client, {
        actor: caller.actor,
        action,
        target: { kind: 'rollout', id },
        before: { state: row.state, wave: row.wave },
        after: { state: status.state, wave: status.wave, policy: row.policy, revision: row.to_number, ...(status.reason !== undefined && status.reason !== row.reason ? { reason: status.reason } : {}) },
        requestId: caller.requestId,
      });
    }
    await notifyFleet(client, { kind: 'rollout-changed' });
    return { ...row, state: status.state, wave: status.wave, phase: status.phase, wave_started_at: new Date(status.phaseStartedAt), reason: status.reason ?? null };
  }

  /** A finished rollout can be undone only while its revision is still the policy's current one. */
  async #assertRollbackable(client: pg.ClientBase, id: number): Promise<void> {
    const found = await client.query<{ state: string; policy: string; current: boolean; others: string }>(
      `SELECT ro.state, ro.policy, p.current_revision_id = ro.to_revision_id AS current,
              (SELECT count(*) FROM rollouts o WHERE o.policy = ro.policy AND o.id <> ro.id AND o.state IN ('pending', 'running', 'paused', 'rolling-back')) AS others
       FROM rollouts ro JOIN policies p ON p.name = ro.policy WHERE ro.id = $1 FOR UPDATE OF p`,
      [id],
    );
    const row = found.rows[0];
    if (row?.state !== 'completed') return;
    if (!row.current) throw ConflictError(`rollout ${id}: its revision is no longer the current one of policy ${row.policy}; use POST /api/v1/policies/${row.policy}/rollback`);
    if (Number(row.others) > 0) throw ConflictError(`rollout ${id}: policy ${row.policy} has another active rollout; abort it first`);
  }

  async #waveAgents(client: pg.ClientBase, id: string, from: number, to: number): Promise<string[]> {
    const found = await client.query<{ agent_id: string }>('SELECT agent_id FROM rollout_agents WHERE rollout_id = $1 AND wave BETWEEN $2 AND $3', [id, from, to]);
    return found.rows.map((r) => r.agent_id);
  }

  async #row(client: pg.ClientBase | pg.Pool, id: number | string): Promise<RolloutRow | undefined> {
    return (await client.query<RolloutRow>(`${ROLLOUT_SELECT} WHERE ro.id = $1`, [id])).rows[0];
  }
}

/** What the gate compares each agent against: its rates over the window before its wave opened. */
async function captureBaselines(client: pg.ClientBase, rolloutId: string, agentIds: readonly string[], settings: GateSettings, now: number): Promise<void> {
  if (agentIds.length === 0) return;
  const since = new Date(now - settings.baselineSeconds * 1000);
  const history = await client.query<{ agent_id: string; health: GateHealth | null }>(
    'SELECT agent_id, health FROM agent_checkins WHERE agent_id = ANY($1::text[]) AND at >= $2 ORDER BY at, id',
    [agentIds, since],
  );
  const latest = await client.query<{ id: string; health: GateHealth | null }>(
    'SELECT id, health FROM agents WHERE id = ANY($1::text[])',
    [agentIds],
  );
  const snapshots = new Map<string, GateHealth[]>();
  for (const row of history.rows) if (row.health) snapshots.set(row.agent_id, [...(snapshots.get(row.agent_id) ?? []), row.health]);
  const ids: string[] = [];
  const baselines: string[] = [];
  for (const agent of latest.rows) {
    const series = [...(snapshots.get(agent.id) ?? []), ...(agent.health ? [agent.health] : [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    ids.push(agent.id);
    baselines.push(JSON.stringify(baselineOf(series, now) ?? { rates: {}, openBreakers: 0, outboxRows: 0, at: now }));
  }
  await client.query(
    'UPDATE rollout_agents ra SET baseline = u.baseline FROM unnest($2::text[], $3::jsonb[]) AS u(agent, baseline) WHERE ra.rollout_id = $1 AND ra.agent_id = u.agent',
    [rolloutId, ids, baselines],
  );
}

export function viewOf(row: RolloutRow, agents: ReadonlyArray<{ agent_id: string; wave: number }>): RolloutView {
  return {
    id: Number(row.id),
    policy: row.policy,
    fromRevision: row.from_number,
    toRevision: row.to_number,
    strategy: row.strategy as unknown as Record<string, unknown>,
    state: row.state,
    wave: row.wave,
    waveCount: row.wave_count,
    phase: row.phase,
    phaseStartedAt: row.wave_started_at.toISOString(),
    gateReport: row.gate_report,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    agents: agents.map((a) => ({ agentId: a.agent_id, wave: a.wave })),
  };
}
