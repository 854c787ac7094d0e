/**
 * Enrolled agents as operators see them (GET/PATCH /agents, revoke). Connectivity (online / stale /
 * offline by the last check-in) and drift are defined once, in connectivity.ts. Every change is audited in its own transaction and
 * notifies 'agent-changed', so each control-plane process drops what it cached about the agent: a revoked
 * agent is refused at its next request wherever it lands.
 */
import type pg from 'pg';
import { NotFoundError } from '@sluice/shared/errors';
import {
  type AgentConnectivity,
  type AgentDetail,
  type AgentListQuery,
  type AgentSummary,
  type Labels,
} from '@sluice/shared/api/fleet-agents';
import type { ApplyState } from '@sluice/shared/fleet/checkin';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit, type AuditActor } from '../operators/audit.ts';
import { reassignAgent } from './assignment.ts';
import { connectivitySql, DEFAULT_CONNECTIVITY, DRIFT_SQL, type ConnectivityThresholds } from './connectivity.ts';
import type { FleetEvents } from './fleet-events.ts';

interface AgentRow {
  id: string;
  name: string;
  labels: Labels;
  status: 'active' | 'revoked';
  hostname: string;
  version: string;
  enrolled_at: Date;
  revoked_at: Date | null;
  last_seen_at: Date | null;
  reported_hash: string | null;
  apply_state: ApplyState | null;
  apply_hash: string | null;
  apply_reason: string | null;
  desired_revision_id: string | null;
  desired_policy: string | null;
  desired_number: number | null;
  desired_hash: string | null;
  connectivity: AgentConnectivity;
  drift: boolean;
  /** The last check-in's `health.outbox` (the check-in schema fixed its shape), null before the first. */
  outbox: { rows: number; bytes: number; oldestAgeMs: number | null } | null;
}

interface DetailRow extends AgentRow {
  health: unknown;
  allowed_roots: string[];
}

const selectAgents = (thresholds: ConnectivityThresholds): string => `
  SELECT a.id, a.name, a.labels, a.status, a.hostname, a.version, a.enrolled_at, a.revoked_at, a.last_seen_at,
         a.reported_hash, a.apply_state, a.apply_hash, a.apply_reason, a.desired_revision_id,
         r.policy AS desired_policy, r.number AS desired_number, r.hash AS desired_hash,
         ${connectivitySql(thresholds)} AS connectivity, ${DRIFT_SQL} AS drift, a.health->'outbox' AS outbox`;
const FROM_AGENTS = 'FROM agents a LEFT JOIN policy_revisions r ON r.id = a.desired_revision_id';

function summary(row: AgentRow): AgentSummary {
  const desired =
    row.desired_revision_id !== null && row.desired_hash !== null && row.desired_policy !== null && row.desired_number !== null
      ? { revision: { policy: row.desired_policy, number: row.desired_number, id: Number(row.desired_revision_id) }, hash: row.desired_hash }
      : null;
  return {
    id: row.id,
    name: row.name,
    labels: row.labels,
    status: row.status,
    connectivity: row.connectivity,
    hostname: row.hostname,
    version: row.version,
    enrolledAt: row.enrolled_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastSeenAt: row.last_seen_at?.toISOString() ?? null,
    reportedHash: row.reported_hash,
    applyState: row.apply_state,
    applyHash: row.apply_hash,
    applyReason: row.apply_reason,
    desired,
    drift: row.drift,
    outbox: row.outbox === null ? null : { rows: row.outbox.rows, bytes: row.outbox.bytes, oldestAgeMs: row.outbox.oldestAgeMs ?? null },
  };
}

/** `key:value` filters (the first ':' separates) as one jsonb containment object. */
export function labelFilter(label: readonly string[] | undefined): Labels {
  const list = label ?? [];
  return Object.fromEntries(list.map((pair) => [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1)]));
}

export interface AgentStoreOptions {
  now?: () => Date;
  /** SLUICE_AGENT_STALE_SECONDS / SLUICE_AGENT_OFFLINE_SECONDS (default 90 s and 300 s). */
  connectivity?: ConnectivityThresholds;
  /** Check-in history rows the detail shows (newest first). */
  historyLimit?: number;
}

export class AgentStore {
  readonly #pool: pg.Pool;
  readonly #events: FleetEvents;
  readonly #now: () => Date;
  readonly #historyLimit: number;
  readonly #select: string;
  readonly #connectivity: string;

  constructor(pool: pg.Pool, events: FleetEvents, options: AgentStoreOptions = {}) {
    this.#pool = pool;
    this.#events = events;
    this.#now = options.now ?? (() => new Date());
    this.#historyLimit = options.historyLimit ?? 50;
    this.#select = selectAgents(options.connectivity ?? DEFAULT_CONNECTIVITY);
    this.#connectivity = connectivitySql(options.connectivity ?? DEFAULT_CONNECTIVITY);
  }

  async list(query: AgentListQuery): Promise<{ items: AgentSummary[]; next?: string }> {
    const limit = query.limit ?? 1000;
    const params: unknown[] = [JSON.stringify(labelFilter(query.label)), query.after ?? null, limit + 1];
    const where = ['a.labels @> $1::jsonb', '($2::text IS NULL OR a.id > $2)'];
    if (query.status === 'revoked') where.push(`a.status = 'revoked'`);
    else if (query.status !== undefined) {
      params.push(query.status);
      where.push(`a.status = 'active'`, `${this.#connectivity} = $4::text`);
    }
    if (query.drift !== undefined) where.push(query.drift ? DRIFT_SQL : `NOT ${DRIFT_SQL}`);
    const rows = await this.#pool.query<AgentRow>(`${this.#select} ${FROM_AGENTS} WHERE ${where.join(' AND ')} ORDER BY a.id LIMIT $3`, params);
    const items = rows.rows.slice(0, limit).map((row) => summary(row));
    const last = items.at(-1);
    return rows.rows.length > limit && last ? { items, next: last.id } : { items };
  }

  async detail(agentId: string): Promise<AgentDetail> {
    const found = await this.#pool.query<DetailRow>(`${this.#select}, a.health, a.allowed_roots ${FROM_AGENTS} WHERE a.id = $1`, [agentId]);
    const row = found.rows[0];
    if (!row) throw NotFoundError(`no agent ${agentId}`);
    const history = await this.#pool.query<{ at: Date; config_hash: string | null; apply_state: ApplyState | null; health: unknown }>(
      'SELECT at, config_hash, apply_state, health FROM agent_checkins WHERE agent_id = $1 ORDER BY at DESC, id DESC LIMIT $2',
      [agentId, this.#historyLimit],
    );
    return {
      ...summary(row),
      health: row.health ?? null,
      allowedRoots: row.allowed_roots,
      checkins: history.rows.map((h) => ({ at: h.at.toISOString(), configHash: h.config_hash, applyState: h.apply_state, health: h.health ?? null })),
    };
  }

  /** Replaces the agent's labels; the policy assignment follows them in the same transaction. */
  async setLabels(agentId: string, labels: Labels, actor: AuditActor, requestId?: string): Promise<AgentDetail> {
    await withTransaction(this.#pool, async (client) => {
      const found = await client.query<{ labels: Labels }>('SELECT labels FROM agents WHERE id = $1 FOR UPDATE', [agentId]);
      const before = found.rows[0];
      if (!before) throw NotFoundError(`no agent ${agentId}`);
      await client.query('UPDATE agents SET labels = $2 WHERE id = $1', [agentId, JSON.stringify(labels)]);
      await reassignAgent(client, agentId);
      await recordAudit(client, { actor, action: 'agent.labels', target: { kind: 'agent', id: agentId }, before: { labels: before.labels }, after: { labels }, requestId });
      await this.#events.notify(client, { kind: 'agent-changed', agentIds: [agentId] });
    });
    return this.detail(agentId);
  }

  /** Cuts the agent off at its next request on every process; revoking twice changes nothing more. */
  async revoke(agentId: string, actor: AuditActor, requestId?: string): Promise<AgentDetail> {
    await withTransaction(this.#pool, async (client) => {
      const found = await client.query<{ status: string }>('SELECT status FROM agents WHERE id = $1 FOR UPDATE', [agentId]);
      const row = found.rows[0];
      if (!row) throw NotFoundError(`no agent ${agentId}`);
      if (row.status === 'revoked') return;
      await client.query(`UPDATE agents SET status = 'revoked', revoked_at = $2 WHERE id = $1`, [agentId, this.#now()]);
      await recordAudit(client, { actor, action: 'agent.revoke', target: { kind: 'agent', id: agentId }, before: { status: 'active' }, after: { status: 'revoked' }, requestId });
      await this.#events.notify(client, { kind: 'agent-changed', agentIds: [agentId] });
    });
    return this.detail(agentId);
  }
}
