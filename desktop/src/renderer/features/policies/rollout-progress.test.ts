import { describe, expect, it } from 'vitest';
import type { AgentSummary } from '../../api/agents.ts';
import type { RolloutView } from '../../api/policies.ts';
import { gateReportOf, rolloutActions, rolloutStage, rolloutWaves } from './rollout-progress.ts';

const TO_HASH = 'c'.repeat(64);

const rollout = (extra: Partial<RolloutView> = {}): RolloutView => ({
  id: 7,
  policy: 'edge',
  fromRevision: 1,
  toRevision: 2,
  strategy: { kind: 'staged', canary: { percent: 10 }, waves: [{ percent: 100 }] },
  state: 'running',
  wave: 0,
  waveCount: 2,
  phase: 'applying',
  phaseStartedAt: '2026-12-02T10:00:00Z',
  gateReport: null,
  reason: null,
  createdBy: 'user:ops',
  createdAt: '2026-12-02T10:00:00Z',
  updatedAt: '2026-12-02T10:00:00Z',
  finishedAt: null,
  agents: [
    { agentId: 'gw-1', wave: 0 },
    { agentId: 'gw-2', wave: 0 },
    { agentId: 'gw-3', wave: 1 },
  ],
  ...extra,
});

const agent = (id: string, applyState: AgentSummary['applyState'], number: number, applyHash: string | null = TO_HASH): AgentSummary =>
  ({
    id,
    name: `name-${id}`,
    applyState,
    applyHash,
    applyReason: applyState === 'failed' ? 'source app: EACCES' : null,
    desired: { revision: { policy: 'edge', number, id: number }, hash: TO_HASH },
  }) as AgentSummary;

describe('rollout progress', () => {
  it('shapes waves with each agent applied, applying, failed or waiting', () => {
    const waves = rolloutWaves(rollout(), [agent('gw-1', 'applied', 2), agent('gw-2', 'failed', 2), agent('gw-3', 'applied', 1)]);
    expect(waves.map((w) => [w.label, w.opened])).toEqual([
      ['canaries', true],
      ['wave 1', false],
    ]);
    expect(waves[0]!.agents).toEqual([
      { agentId: 'gw-1', name: 'name-gw-1', state: 'applied', reason: null },
      { agentId: 'gw-2', name: 'name-gw-2', state: 'failed', reason: 'source app: EACCES' },
    ]);
    expect(waves[1]!.agents.map((a) => a.state)).toEqual(['waiting']);
    expect(waves[0]!.counts).toMatchObject({ applied: 1, failed: 1, applying: 0 });
  });

  it('counts an agent as applying until it reports applied of the target hash', () => {
    const stale = agent('gw-1', 'applied', 2, 'd'.repeat(64));
    const [canaries] = rolloutWaves(rollout({ agents: [{ agentId: 'gw-1', wave: 0 }, { agentId: 'gw-gone', wave: 0 }] }), [stale]);
    expect(canaries!.agents.map((a) => [a.name, a.state])).toEqual([
      ['name-gw-1', 'applying'],
      ['gw-gone', 'applying'],
    ]);
  });

  it('shows opened agents as reverted after a rollback, and one wave for all at once', () => {
    const back = rolloutWaves(rollout({ state: 'rolled-back', wave: 1 }), [agent('gw-1', 'applied', 1)]);
    expect(back.flatMap((w) => w.agents.map((a) => a.state))).toEqual(['reverted', 'reverted', 'reverted']);
    const all = rolloutWaves(rollout({ strategy: { kind: 'all' }, waveCount: 1, agents: [{ agentId: 'gw-1', wave: 0 }] }), [agent('gw-1', 'applying', 2)]);
    expect(all.map((w) => w.label)).toEqual(['all agents']);
  });

  it('says where the rollout stands', () => {
    const stage = (extra: Partial<RolloutView>) => {
      const r = rollout(extra);
      return rolloutStage(r, rolloutWaves(r, []));
    };
    expect(stage({})).toBe('canaries: waiting for its agents to apply (wave 1 of 2)');
    expect(stage({ state: 'paused', wave: 1, phase: 'soaking' })).toBe('paused at wave 1: soaking behind the gate (wave 2 of 2)');
    expect(stage({ state: 'pending', wave: -1 })).toBe('waiting to start');
    expect(stage({ state: 'completed', wave: 1 })).toBe('every wave applied (2 waves)');
    expect(stage({ state: 'rolled-back' })).toBe('stopped at canaries (wave 1 of 2)');
    expect(stage({ state: 'aborted', wave: -1 })).toBe('stopped before any wave opened');
  });

  it('offers the actions the state allows, and reads the gate report only when it has its shape', () => {
    expect(rolloutActions('running')).toEqual(['pause', 'abort', 'rollback']);
    expect(rolloutActions('paused')).toEqual(['resume', 'abort', 'rollback']);
    expect(rolloutActions('completed')).toEqual(['rollback']);
    expect(rolloutActions('aborted')).toEqual([]);
    expect(gateReportOf(null)).toBeNull();
    expect(gateReportOf({ verdict: 'fail', reason: 'gw-2 failed', at: 'x', agents: [] })?.verdict).toBe('fail');
  });
});
