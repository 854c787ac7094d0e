/**
 * The health gate of a rollout wave, as a pure function of what the agents of the wave reported (their
 * check-ins: apply state, health snapshots). Each agent is measured against itself: its shipping rate per
 * dataset during the soak against its own rate before its wave opened, so a quiet gateway and a busy one
 * are judged alike. The engine (control-plane/src/fleet/rollout-engine.ts) gathers the inputs.
 */
import type { GateSettings, RolloutPhase } from './rollout.ts';

/** The part of a check-in's health snapshot the gate reads (shared/src/fleet/checkin.ts has the whole). */
export interface GateHealth {
  at: string;
  /** The agent process's start: its counters count from here, so a new value means they restarted at 0. */
  startedAt: string;
  sources: ReadonlyArray<{ id: string; lastError?: { at: string; message: string } | undefined }>;
  outbox: { rows: number };
  breakers: ReadonlyArray<{ state: string }>;
  datasets: ReadonlyArray<{ dataset: string; shipped: number }>;
}

/** An agent's state when its wave opened, kept with the rollout (rollout_agents.baseline). */
export interface AgentBaseline {
  /** Records shipped per second, per dataset, over the baseline window; absent when nothing was known. */
  rates: Record<string, number>;
  openBreakers: number;
  outboxRows: number;
  at: number;
}

export interface GateAgentInput {
  agentId: string;
  /** Last check-in, ms since the epoch; null if it never checked in. */
  lastSeenAt: number | null;
  reportedHash: string | null;
  applyState: string | null;
  /**
   * A `failed` / `rolled-back` reported since the wave opened whose apply hash is the target's, with its
   * reason; a failure the agent still reports about another revision is not one.
   */
  failure?: string | undefined;
  baseline: AgentBaseline | null;
  /** The snapshot when the wave's soak began, and the newest one. */
  soakStart: GateHealth | null;
  current: GateHealth | null;
}

export interface GateAgentReport {
  agentId: string;
  ok: boolean;
  problems: string[];
  /** Per dataset: records/s before and during the soak. */
  rates?: Record<string, { before: number; during: number }> | undefined;
}

export type GateVerdict = 'waiting' | 'applied' | 'pass' | 'fail';

export interface GateReport {
  verdict: GateVerdict;
  reason?: string | undefined;
  at: string;
  agents: GateAgentReport[];
}

export interface GateInput {
  now: number;
  phase: RolloutPhase;
  /** When the phase's clock started (wave opened / soak began / resumed), ms. */
  phaseStartedAt: number;
  soakSeconds: number;
  settings: GateSettings;
  targetHash: string;
  agents: readonly GateAgentInput[];
}

const ms = (iso: string): number => Date.parse(iso);

/**
 * Records shipped per second per dataset between two snapshots of one agent. Counters are cumulative since
 * the process started; if it restarted in between, only the new process's counts over its own lifetime
 * are known. Undefined when no time passed (no new check-in).
 */
export function shippingRates(start: GateHealth, end: GateHealth): Record<string, number> | undefined {
  const restarted = start.startedAt !== end.startedAt;
  const spanMs = restarted ? ms(end.at) - ms(end.startedAt) : ms(end.at) - ms(start.at);
  if (!(spanMs > 0)) return undefined;
  const before = new Map(start.datasets.map((d) => [d.dataset, d.shipped]));
  const rates: Record<string, number> = {};
  for (const d of end.datasets) rates[d.dataset] = Math.max(0, d.shipped - (restarted ? 0 : (before.get(d.dataset) ?? 0))) / (spanMs / 1000);
  for (const name of before.keys()) rates[name] ??= 0;
  return rates;
}

/**
 * The baseline from the snapshots of the window before the wave opened (oldest first): per dataset, the
 * median of the rates between consecutive snapshots of the running process. A median, not the window's
 * average: an agent that just started or came back online first ships its backlog in a burst, and an
 * average over the burst would hold it to a rate it never sustains (a healthy wave would fail its gate).
 */
export function baselineOf(snapshots: readonly GateHealth[], at: number): AgentBaseline | null {
  const last = snapshots.at(-1);
  if (last === undefined) return null;
  const run = snapshots.filter((s) => s.startedAt === last.startedAt);
  const intervals: Array<Record<string, number>> = [];
  for (let i = 1; i < run.length; i++) {
    const rates = shippingRates(run[i - 1]!, run[i]!);
    if (rates !== undefined) intervals.push(rates);
  }
  // One snapshot (or one since a restart): the average since the process started.
  const rates = intervals.length > 0 ? medianRates(intervals) : sinceStart(last);
  return { rates, openBreakers: openBreakers(last), outboxRows: last.outbox.rows, at };
}

function medianRates(intervals: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const datasets = new Set(intervals.flatMap((rates) => Object.keys(rates)));
  return Object.fromEntries([...datasets].map((dataset) => [dataset, median(intervals.map((rates) => rates[dataset] ?? 0))]));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function sinceStart(health: GateHealth): Record<string, number> {
  const seconds = (ms(health.at) - ms(health.startedAt)) / 1000;
  return seconds > 0 ? Object.fromEntries(health.datasets.map((d) => [d.dataset, d.shipped / seconds])) : {};
}

const openBreakers = (health: GateHealth): number => health.breakers.filter((b) => b.state === 'open').length;

/**
 * The wave's verdict now. Applying: `applied` once every agent runs the target, `fail` when one failed it or
 * the apply timeout passed. Soaking: `fail` at once for a failure or a silent agent, else `waiting` until
 * soakSeconds passed and every agent checked in since, then `pass` or `fail` on the data: shipping ratio, new source errors, open breakers,
 * outbox growth.
 */
export function evaluateGate(input: GateInput): GateReport {
  const { now, settings } = input;
  const reports: GateAgentReport[] = [];
  const at = new Date(now).toISOString();
  for (const agent of input.agents) {
    const problems: string[] = [];
    if (agent.failure !== undefined) problems.push(`reported ${agent.failure} for the new revision`);
    const silentFor = agent.lastSeenAt === null ? Infinity : (now - agent.lastSeenAt) / 1000;
    if (silentFor > settings.maxSilenceSeconds && now - input.phaseStartedAt > settings.maxSilenceSeconds * 1000) {
      problems.push(agent.lastSeenAt === null ? 'has never checked in' : `has not checked in for ${Math.round(silentFor)} s (maxSilenceSeconds ${settings.maxSilenceSeconds})`);
    }
    reports.push({ agentId: agent.agentId, ok: problems.length === 0, problems });
  }
  const failedNow = reports.filter((r) => !r.ok);
  if (failedNow.length > 0) return { verdict: 'fail', reason: summary(failedNow), at, agents: reports };

  if (input.phase === 'applying') {
    const pending = input.agents.filter((a) => a.reportedHash !== input.targetHash || a.applyState !== 'applied');
    if (pending.length === 0) return { verdict: 'applied', at, agents: reports };
    if (now - input.phaseStartedAt > settings.applyTimeoutSeconds * 1000) {
      const late = pending.map((a) => ({ agentId: a.agentId, ok: false, problems: [`did not report applied within ${settings.applyTimeoutSeconds} s (applyTimeoutSeconds); it reports ${a.applyState ?? 'nothing'} of ${a.reportedHash ?? 'no config'}`] }));
      return { verdict: 'fail', reason: summary(late), at, agents: [...reports.filter((r) => !pending.some((p) => p.agentId === r.agentId)), ...late] };
    }
    return { verdict: 'waiting', at, agents: reports };
  }

  const soakEnd = input.phaseStartedAt + input.soakSeconds * 1000;
  if (now < soakEnd) return { verdict: 'waiting', at, agents: reports };
  // Judged on a check-in that covers the whole soak: an agent that has not reported since it ended is
  // waited for (and fails as silent once maxSilenceSeconds pass), not judged on an older snapshot.
  if (input.agents.some((a) => a.lastSeenAt === null || a.lastSeenAt < soakEnd)) return { verdict: 'waiting', at, agents: reports };
  const judged = input.agents.map((agent) => judgeSoak(agent, input));
  const failed = judged.filter((r) => !r.ok);
  return failed.length > 0 ? { verdict: 'fail', reason: summary(failed), at, agents: judged } : { verdict: 'pass', at, agents: judged };
}

function judgeSoak(agent: GateAgentInput, input: GateInput): GateAgentReport {
  const { settings } = input;
  const problems: string[] = [];
  const { current, soakStart, baseline } = agent;
  if (agent.reportedHash !== input.targetHash) problems.push(`no longer runs the new revision (it reports ${agent.reportedHash ?? 'no config'})`);
  if (current === null || soakStart === null) return { agentId: agent.agentId, ok: false, problems: [...problems, 'reported no health during the soak'] };
  const during = shippingRates(soakStart, current);
  let rates: GateAgentReport['rates'];
  if (during === undefined) problems.push('reported no health during the soak');
  else if (baseline !== null) {
    rates = {};
    for (const [dataset, before] of Object.entries(baseline.rates)) {
      const now = during[dataset] ?? 0;
      rates[dataset] = { before, during: now };
      if (before > 0 && now < settings.minShippingRatio * before) {
        problems.push(`ships ${dataset} at ${round(now)} records/s, below ${settings.minShippingRatio} × its ${round(before)} records/s before the rollout`);
      }
    }
  }
  const waveOpenedAt = baseline?.at ?? input.phaseStartedAt;
  const erroring = current.sources.filter((s) => s.lastError !== undefined && ms(s.lastError.at) >= waveOpenedAt);
  if (erroring.length > settings.maxSourceErrors) problems.push(`${erroring.length} source(s) report new errors (maxSourceErrors ${settings.maxSourceErrors}): ${erroring.map((s) => `${s.id}: ${s.lastError?.message ?? ''}`).join('; ')}`);
  const breakers = openBreakers(current) - (baseline?.openBreakers ?? 0);
  if (breakers > settings.maxOpenBreakers) problems.push(`${breakers} more breaker(s) open than before (maxOpenBreakers ${settings.maxOpenBreakers})`);
  const growth = current.outbox.rows - (baseline?.outboxRows ?? current.outbox.rows);
  if (growth > settings.maxOutboxGrowthRows) problems.push(`outbox grew by ${growth} rows (maxOutboxGrowthRows ${settings.maxOutboxGrowthRows})`);
  return { agentId: agent.agentId, ok: problems.length === 0, problems, rates };
}

const round = (n: number): number => Math.round(n * 100) / 100;

function summary(failed: readonly GateAgentReport[]): string {
  const shown = failed.slice(0, 5).map((r) => `agent ${r.agentId} ${r.problems.join('; ')}`);
  return `${shown.join(' | ')}${failed.length > 5 ? ` (and ${failed.length - 5} more agents)` : ''}`;
}
