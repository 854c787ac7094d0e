import { describe, expect, it } from 'vitest';
import { DEFAULT_ROLLOUT_OPTIONS, gateHint, gateLabel, strategyOf } from './rollout-options.ts';

describe('rollout options', () => {
  it('builds the staged strategy, sending only the gate fields given', () => {
    expect(strategyOf({ ...DEFAULT_ROLLOUT_OPTIONS, gate: { applyTimeoutSeconds: '60', maxSourceErrors: ' ' } })).toEqual({
      ok: true,
      strategy: { kind: 'staged', canary: { percent: 10 }, waves: [{ percent: 50 }, { percent: 50 }], soakSeconds: 300, gate: { applyTimeoutSeconds: 60 } },
    });
    expect(strategyOf({ ...DEFAULT_ROLLOUT_OPTIONS, kind: 'all' })).toEqual({ ok: true, strategy: { kind: 'all' } });
  });

  it('takes named canaries, once each', () => {
    expect(strategyOf({ ...DEFAULT_ROLLOUT_OPTIONS, canaryBy: 'agents', canaryAgents: 'gw-1, gw-2 gw-1', waves: '', soakSeconds: '0', gate: { minShippingRatio: '0' } })).toEqual({
      ok: true,
      strategy: { kind: 'staged', canary: { agents: ['gw-1', 'gw-2'] }, waves: [], soakSeconds: 0, gate: { minShippingRatio: 0 } },
    });
  });

  it('names each bad field, with the bounds of the schema', () => {
    expect(strategyOf({ ...DEFAULT_ROLLOUT_OPTIONS, canaryPercent: '0', waves: '50, abc', soakSeconds: '-1', gate: { minShippingRatio: '11', applyTimeoutSeconds: '1.5' } })).toEqual({
      ok: false,
      problems: [
        'canaries must be a percentage above 0, at most 100',
        'wave 2 must be a percentage above 0, at most 100',
        'soak must be whole seconds, 0 or more',
        'min shipping ratio must be a number from 0 to 10',
        'apply timeout seconds must be a whole number from 1 to 86400',
      ],
    });
    expect(strategyOf({ ...DEFAULT_ROLLOUT_OPTIONS, canaryBy: 'agents', canaryAgents: ' , ' })).toEqual({ ok: false, problems: ['name at least one canary agent'] });
  });

  it('labels the gate fields from the schema', () => {
    expect(gateLabel('maxOutboxGrowthRows')).toBe('max outbox growth rows');
    expect(gateHint('minShippingRatio')).toMatch(/^Each agent's records shipped per second/);
  });
});
