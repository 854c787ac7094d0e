/**
 * A rollout as the operator reads it: its waves (0 = canaries) with each agent's state, from the rollout's
 * agent → wave assignment and the fleet's apply reports.
 *
 *   waiting   its wave has not opened yet
 *   applying  its wave is open; it has not reported `applied` of the rollout's revision yet
 *   applied   it runs the revision (`applied`, of the hash it was asked to run)
 *   failed    it reported `failed` or `rolled-back` of that revision
 *   reverted  the rollout was rolled back or aborted: it is back on the previous revision
 */
import type { AgentSummary } from '../../api/agents.ts';
import type { RolloutView } from '../../api/policies.ts';
import { isActive } from '@sluice/shared/fleet/rollout';
import type { GateReport } from '@sluice/shared/fleet/rollout-gate';
import { plural } from '../../ui/format.ts';

export type AgentRolloutState = 'waiting' | 'applying' | 'applied' | 'failed' | 'reverted';

export interface RolloutAgentRow {
  agentId: string;
  name: string;
  state: AgentRolloutState;
  reason: string | null;
}

export interface RolloutWave {
  wave: number;
  label: string;
  opened: boolean;
  agents: RolloutAgentRow[];
  counts: Record<AgentRolloutState, number>;
}

const REVERTED_STATES: readonly RolloutView['state'][] = ['rolling-back', 'rolled-back', 'aborted'];

export function agentRolloutState(rollout: RolloutView, wave: number, agent: AgentSummary | undefined): AgentRolloutState {
  if (wave > rollout.wave) return 'waiting';
  if (REVERTED_STATES.includes(rollout.state)) return 'reverted';
  if (agent === undefined) return 'applying';
  const desired = agent.desired;
  const onTarget = desired !== null && desired.revision.policy === rollout.policy && desired.revision.number === rollout.toRevision;
  if (!onTarget || agent.applyHash !== desired.hash) return 'applying';
  if (agent.applyState === 'applied') return 'applied';
  if (agent.applyState === 'failed' || agent.applyState === 'rolled-back') return 'failed';
  return 'applying';
}

export function rolloutWaves(rollout: RolloutView, agents: readonly AgentSummary[]): RolloutWave[] {
  const byId = new Map(agents.map((a) => [a.id, a]));
  const waves = new Map<number, RolloutAgentRow[]>();
  for (let w = 0; w < rollout.waveCount; w++) waves.set(w, []);
  for (const { agentId, wave } of rollout.agents) {
    const agent = byId.get(agentId);
    const state = agentRolloutState(rollout, wave, agent);
    const row = { agentId, name: agent?.name ?? agentId, state, reason: state === 'failed' ? (agent?.applyReason ?? null) : null };
    waves.set(wave, [...(waves.get(wave) ?? []), row]);
  }
  const staged = rollout.strategy.kind === 'staged';
  return [...waves.entries()]
    .sort(([a], [b]) => a - b)
    .map(([wave, rows]) => ({
      wave,
      label: !staged ? 'all agents' : wave === 0 ? 'canaries' : `wave ${String(wave)}`,
      opened: wave <= rollout.wave,
      agents: rows,
      counts: countStates(rows),
    }));
}

function countStates(rows: readonly RolloutAgentRow[]): Record<AgentRolloutState, number> {
  const counts: Record<AgentRolloutState, number> = { waiting: 0, applying: 0, applied: 0, failed: 0, reverted: 0 };
  for (const row of rows) counts[row.state]++;
  return counts;
}

/** Which buttons a rollout in this state offers (the routes refuse the others with 409). */
export function rolloutActions(state: RolloutView['state']): ('pause' | 'resume' | 'abort' | 'rollback')[] {
  switch (state) {
    case 'pending':
      return ['abort'];
    case 'running':
      return ['pause', 'abort', 'rollback'];
    case 'paused':
      return ['resume', 'abort', 'rollback'];
    case 'completed':
      return ['rollback'];
    default:
      return [];
  }
}

export const isActiveRollout = (rollout: RolloutView): boolean => isActive(rollout.state);

/** Where a rollout stands, in words: "canaries: soaking behind the gate (wave 1 of 2)". */
export function rolloutStage(rollout: RolloutView, waves: readonly RolloutWave[]): string {
  const of = `wave ${String(rollout.wave + 1)} of ${String(rollout.waveCount)}`;
  const label = waves.find((w) => w.wave === rollout.wave)?.label ?? `wave ${String(rollout.wave)}`;
  switch (rollout.state) {
    case 'pending':
      return 'waiting to start';
    case 'running':
    case 'paused':
      return `${rollout.state === 'paused' ? 'paused at ' : ''}${label}: ${rollout.phase === 'applying' ? 'waiting for its agents to apply' : 'soaking behind the gate'} (${of})`;
    case 'completed':
      return `every wave applied (${plural(rollout.waveCount, 'wave')})`;
    default:
      return rollout.wave < 0 ? 'stopped before any wave opened' : `stopped at ${label} (${of})`;
  }
}

/**
 * The gate report (rollout-gate.ts's GateReport; the response schema leaves it open), or null when the
 * value does not have its shape: no gate was judged yet.
 */
export function gateReportOf(value: unknown): GateReport | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<Record<keyof GateReport, unknown>>;
  return typeof r.verdict === 'string' && Array.isArray(r.agents) ? (value as GateReport) : null;
}
