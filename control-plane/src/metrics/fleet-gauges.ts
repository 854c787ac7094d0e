/**
 * The fleet's gauges, read from PostgreSQL at scrape time like the DLQ size: the agents table and the
 * rollouts are the system of record, and every `serve` process reports the same values (alert on max()).
 * With PostgreSQL down the series are absent for that scrape and every other metric is still served.
 */
import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';
import { METRICS } from '@sluice/shared/metric-names';
import { ROLLOUT_STATES } from '@sluice/shared/fleet/rollout';
import type { FleetSummaryService } from '../fleet/fleet-summary.ts';

export function registerFleetGauges(registry: Registry, sources: { pool: pg.Pool; summary: FleetSummaryService }): void {
  new Gauge({
    name: METRICS.fleetAgents,
    help: 'Agents by last check-in (online, stale, offline) and revoked',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      const summary = await sources.summary.summary().catch(() => undefined);
      if (!summary) return;
      for (const status of ['online', 'stale', 'offline', 'revoked'] as const) this.set({ status }, summary.agents[status]);
    },
  });
  new Gauge({
    name: METRICS.fleetRollouts,
    help: 'Rollouts by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      const found = await sources.pool.query<{ state: string; n: string }>('SELECT state, count(*) AS n FROM rollouts GROUP BY state').catch(() => undefined);
      if (!found) return;
      // Every state is present (0 when none), so a rule can compare it without `absent()`.
      const counts = new Map(found.rows.map((r) => [r.state, Number(r.n)]));
      for (const state of ROLLOUT_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
}
