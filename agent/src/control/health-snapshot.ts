/**
 * The health part of a check-in (shared/src/fleet/checkin.ts `health`): what the rollout gate and the fleet
 * views judge an agent by. Built from the running agent's own state, never from a scrape of its metrics
 * text: per source state, position and last error; the outbox; breaker states; records read, committed and
 * shipped per dataset since the process started.
 */
import type { CheckinHealth } from '@sluice/shared/fleet/checkin';
import type { Agent } from '../runtime/agent.ts';

const BREAKER_BY_LEVEL = ['closed', 'half-open', 'open'] as const;
const MAX_POSITION = 1024;
const MAX_ERROR = 2048;
const MAX_SOURCES = 1000;
/**
 * A running source that has committed nothing for this long, and whose dataset has nothing left in the outbox,
 * is reported idle: the control plane may then close its analytics panes up to the check-in's time
 * (control-plane/src/analytics/finality.ts).
 */
export const SOURCE_IDLE_AFTER_MS = 10_000;

export async function healthSnapshot(agent: Agent, now: Date = new Date()): Promise<CheckinHealth> {
  const reports = agent.sourceReports().slice(0, MAX_SOURCES);
  const running = new Set(reports.map((s) => s.id));
  const totals = agent.datasetTotals();
  const drained = (dataset: string): boolean => {
    const t = totals.get(dataset);
    return t === undefined || t.committed === t.shipped;
  };
  const quietSince = now.getTime() - SOURCE_IDLE_AFTER_MS;
  const sources = reports.map((s) => ({
    id: s.id,
    type: s.type,
    dataset: s.dataset,
    state: s.state,
    ...(s.position ? { position: s.position.slice(0, MAX_POSITION) } : {}),
    ...(s.lastError ? { lastError: { at: s.lastError.at, message: s.lastError.message.slice(0, MAX_ERROR) } } : {}),
    ...(s.lastCommitAt ? { lastCommitAt: s.lastCommitAt } : {}),
    idle: s.state === 'running' && (s.lastCommitAt === undefined ? s.caughtUp : Date.parse(s.lastCommitAt) <= quietSince) && drained(s.dataset),
  }));
  const gauge = await agent.metrics.breakerState.get();
  const breakers = gauge.values
    .filter((v) => running.has(String(v.labels.source)) && BREAKER_BY_LEVEL[v.value] !== undefined)
    .map((v) => ({ source: String(v.labels.source), endpoint: String(v.labels.endpoint).slice(0, MAX_POSITION), state: BREAKER_BY_LEVEL[v.value]! }));
  const stats = agent.outboxStats();
  const datasets = [...agent.datasetTotals()].slice(0, MAX_SOURCES).map(([dataset, t]) => ({ dataset, read: t.read, committed: t.committed, shipped: t.shipped }));
  return {
    at: now.toISOString(),
    startedAt: agent.startedAt,
    sources,
    outbox: { rows: stats.rows, bytes: stats.bytes, oldestAgeMs: stats.rows > 0 ? Math.round(stats.oldestAgeSeconds * 1000) : null },
    breakers,
    datasets,
  };
}
