/** What the agent page derives from the detail: its recent errors, newest first, from every place they show. */
import type { CheckinHealth } from '@sluice/shared/fleet/checkin';
import { healthOf, type AgentDetail } from '../../api/agents.ts';

export interface RecentError {
  at: string | null;
  where: string;
  message: string;
}

export function recentErrors(agent: AgentDetail, health: CheckinHealth | null): RecentError[] {
  const errors: RecentError[] = [];
  if ((agent.applyState === 'failed' || agent.applyState === 'rolled-back') && agent.applyReason !== null) {
    errors.push({ at: null, where: `apply (${agent.applyState})`, message: agent.applyReason });
  }
  for (const source of health?.sources ?? []) {
    if (source.lastError) errors.push({ at: source.lastError.at, where: `source ${source.id}`, message: source.lastError.message });
  }
  for (const breaker of health?.breakers ?? []) {
    if (breaker.state !== 'closed') errors.push({ at: health?.at ?? null, where: `breaker ${breaker.source} → ${breaker.endpoint}`, message: `circuit ${breaker.state}` });
  }
  return errors.sort((a, b) => (b.at ?? '9999').localeCompare(a.at ?? '9999'));
}

export interface CheckinSeries {
  /** Unix seconds, oldest first. */
  x: number[];
  outboxRows: Array<number | null>;
  /** Records shipped per minute between this check-in and the one before (null: no earlier one, or a restart). */
  shippedPerMinute: Array<number | null>;
}

/**
 * The agent's throughput and outbox over its check-in history. The shipped counters count from the agent
 * process's start, so a check-in from a new process (another `startedAt`) starts the rate afresh.
 */
export function checkinSeries(checkins: AgentDetail['checkins']): CheckinSeries {
  const points = checkins
    .map((c) => ({ at: Date.parse(c.at) / 1000, health: healthOf(c.health) }))
    .filter((p) => Number.isFinite(p.at))
    .sort((a, b) => a.at - b.at);
  const series: CheckinSeries = { x: [], outboxRows: [], shippedPerMinute: [] };
  const shipped = (h: CheckinHealth | null) => h?.datasets.reduce((sum, d) => sum + d.shipped, 0);
  points.forEach((p, i) => {
    const before = points[i - 1];
    series.x.push(p.at);
    series.outboxRows.push(p.health?.outbox.rows ?? null);
    const now = shipped(p.health);
    const then = shipped(before?.health ?? null);
    const sameProcess = before?.health !== null && before?.health !== undefined && p.health !== null && before.health.startedAt === p.health.startedAt;
    const seconds = before === undefined ? 0 : p.at - before.at;
    series.shippedPerMinute.push(sameProcess && now !== undefined && then !== undefined && seconds > 0 ? Math.max(0, ((now - then) / seconds) * 60) : null);
  });
  return series;
}
