/**
 * Agents and check-ins written straight into a test's state schema, the way the check-in writer
 * (fleet/checkin-writer.ts) stores them: the latest report on `agents`, history rows in `agent_checkins`.
 * Rollout and policy tests drive the engine with these under a clock of their own.
 */
import type pg from 'pg';

export async function insertAgent(pool: pg.Pool, id: string, labels: Record<string, string> = {}, allowedRoots: string[] = ['/var/log']): Promise<void> {
  await pool.query(
    `INSERT INTO agents (id, name, labels, credential_hash, instance_counter, instance_nonce, hostname, version, allowed_roots, last_seen_at)
     VALUES ($1, $1, $2, $3, 1, 'nonce-0123456789abcdef', $1, '0.1.0', $4, now())`,
    [id, JSON.stringify(labels), `hash-${id}`, JSON.stringify(allowedRoots)],
  );
}

export async function registerDataset(pool: pg.Pool, name: string): Promise<void> {
  await pool.query(`INSERT INTO datasets (name, spec) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [name, JSON.stringify({ name })]);
}

export interface Report {
  at: number;
  hash: string | null;
  state: 'applying' | 'applied' | 'failed' | 'rolled-back';
  reason?: string;
  /** The hash the apply state is about (default `hash`); for failed / rolled-back, the one that failed. */
  applyHash?: string | null;
  /** Cumulative records shipped per dataset since startedAt. */
  shipped: Record<string, number>;
  startedAt: number;
  sourceErrors?: Array<{ id: string; at: number; message: string }>;
  openBreakers?: number;
  outboxRows?: number;
}

export function healthOf(report: Report): unknown {
  return {
    at: new Date(report.at).toISOString(),
    startedAt: new Date(report.startedAt).toISOString(),
    sources: (report.sourceErrors ?? []).map((e) => ({ id: e.id, type: 'file', dataset: 'app', state: 'running', lastError: { at: new Date(e.at).toISOString(), message: e.message } })),
    outbox: { rows: report.outboxRows ?? 0, bytes: 0, oldestAgeMs: null },
    breakers: Array.from({ length: report.openBreakers ?? 0 }, (_, i) => ({ source: 'poll', endpoint: `e${i}`, state: 'open' })),
    datasets: Object.entries(report.shipped).map(([dataset, shipped]) => ({ dataset, read: shipped, committed: shipped, shipped })),
  };
}

export async function checkIn(pool: pg.Pool, agentId: string, report: Report): Promise<void> {
  const health = JSON.stringify(healthOf(report));
  const applyHash = report.applyHash === undefined ? report.hash : report.applyHash;
  await pool.query(
    `UPDATE agents SET last_seen_at = $2, reported_hash = $3, apply_state = $4, apply_reason = $5, health = $6, apply_hash = $7 WHERE id = $1`,
    [agentId, new Date(report.at), report.hash, report.state, report.reason ?? null, health, applyHash],
  );
  await pool.query(
    `INSERT INTO agent_checkins (agent_id, at, config_hash, apply_state, apply_reason, health, apply_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [agentId, new Date(report.at), report.hash, report.state, report.reason ?? null, health, applyHash],
  );
}

export async function desiredOf(pool: pg.Pool, agentId: string): Promise<{ number: number; hash: string } | null> {
  const found = await pool.query<{ number: number; hash: string }>(
    'SELECT r.number, r.hash FROM agents a JOIN policy_revisions r ON r.id = a.desired_revision_id WHERE a.id = $1',
    [agentId],
  );
  return found.rows[0] ?? null;
}
