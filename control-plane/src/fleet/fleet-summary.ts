/**
 * The fleet at a glance, from the agents table (written by the check-in service) and the revisions agents
 * are meant to run: counts by connectivity and drift as connectivity.ts defines them (the same rules as
 * GET /agents), versions and apply states. Revoked agents count as revoked only.
 */
import type pg from 'pg';
import type { FleetSummary } from '@sluice/shared/api/fleet-health';
import { connectivitySql, DRIFT_SQL, type ConnectivityThresholds } from './connectivity.ts';

export type { ConnectivityThresholds };

const UNKNOWN = 'unknown';

export class FleetSummaryService {
  readonly #pool: pg.Pool;
  readonly #thresholds: ConnectivityThresholds;

  constructor(pool: pg.Pool, thresholds: ConnectivityThresholds) {
    this.#pool = pool;
    this.#thresholds = thresholds;
  }

  async summary(): Promise<FleetSummary> {
    const { staleSeconds, offlineSeconds } = this.#thresholds;
    const [counts, versions, applyStates] = await Promise.all([
      this.#pool.query<Record<'at' | 'total' | 'revoked' | 'online' | 'stale' | 'offline' | 'never' | 'drift', string | Date>>(
        `SELECT now() AS at,
           count(*) AS total,
           count(*) FILTER (WHERE a.status = 'revoked') AS revoked,
           count(*) FILTER (WHERE a.status <> 'revoked' AND c.connectivity = 'online') AS online,
           count(*) FILTER (WHERE a.status <> 'revoked' AND c.connectivity = 'stale') AS stale,
           count(*) FILTER (WHERE a.status <> 'revoked' AND c.connectivity = 'offline') AS offline,
           count(*) FILTER (WHERE a.status <> 'revoked' AND a.last_seen_at IS NULL) AS never,
           count(*) FILTER (WHERE ${DRIFT_SQL}) AS drift
         FROM agents a LEFT JOIN policy_revisions r ON r.id = a.desired_revision_id
              CROSS JOIN LATERAL (SELECT ${connectivitySql(this.#thresholds)} AS connectivity) c`,
      ),
      this.#pool.query<{ key: string | null; n: string }>(`SELECT version AS key, count(*) AS n FROM agents WHERE status <> 'revoked' GROUP BY 1`),
      this.#pool.query<{ key: string | null; n: string }>(`SELECT apply_state AS key, count(*) AS n FROM agents WHERE status <> 'revoked' GROUP BY 1`),
    ]);
    const row = counts.rows[0]!;
    const n = (key: keyof typeof row): number => Number(row[key]);
    return {
      at: (row.at as Date).toISOString(),
      thresholds: { staleSeconds, offlineSeconds },
      agents: { total: n('total'), online: n('online'), stale: n('stale'), offline: n('offline'), neverCheckedIn: n('never'), revoked: n('revoked') },
      versions: tally(versions.rows),
      drift: n('drift'),
      applyStates: tally(applyStates.rows),
    };
  }
}

function tally(rows: ReadonlyArray<{ key: string | null; n: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.key ?? UNKNOWN] = (out[r.key ?? UNKNOWN] ?? 0) + Number(r.n);
  return out;
}
