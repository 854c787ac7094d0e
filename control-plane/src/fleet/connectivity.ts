/**
 * The one definition of an agent's connectivity and drift, as SQL over `agents a LEFT JOIN policy_revisions r
 * ON r.id = a.desired_revision_id`, so GET /agents (each agent and its status filter), GET /fleet/summary and
 * the sluice_fleet_agents gauge cannot disagree. Judged on the database's clock: every control-plane process
 * answers alike.
 *
 *   last check-in ≤ staleSeconds ago ─► online
 *   ≤ offlineSeconds ago ─────────────► stale
 *   older, or never checked in ───────► offline          (revoked agents are counted as revoked)
 *
 * Drift: an active agent that has not checked in yet (it runs nothing the control plane knows of), or whose
 * reported config hash is not the hash of its desired revision.
 */
import { DEFAULT_CONNECTIVITY, type AgentConnectivity, type ConnectivityThresholds } from '@sluice/shared/api/fleet-agents';

export { DEFAULT_CONNECTIVITY, type AgentConnectivity, type ConnectivityThresholds };

/** The thresholds as SLUICE_AGENT_STALE_SECONDS / SLUICE_AGENT_OFFLINE_SECONDS set them (config.ts checks them). */
export function connectivityThresholds(settings: { agentStaleSeconds: number; agentOfflineSeconds: number }): ConnectivityThresholds {
  return { staleSeconds: settings.agentStaleSeconds, offlineSeconds: settings.agentOfflineSeconds };
}

const seconds = (n: number): string => `make_interval(secs => ${String(Math.trunc(n))})`;

/** 'online' | 'stale' | 'offline' for the row `a` (its status aside). */
export function connectivitySql(thresholds: ConnectivityThresholds): string {
  return `CASE WHEN a.last_seen_at >= now() - ${seconds(thresholds.staleSeconds)} THEN 'online'
               WHEN a.last_seen_at >= now() - ${seconds(thresholds.offlineSeconds)} THEN 'stale'
               ELSE 'offline' END`;
}

export const DRIFT_SQL = `(a.status = 'active' AND (a.last_seen_at IS NULL OR (r.id IS NOT NULL AND a.reported_hash IS DISTINCT FROM r.hash)))`;
