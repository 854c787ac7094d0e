import { describe, expect, it } from 'vitest';
import { GATE_DEFAULTS, planWaves, RolloutTransitionError, transition, type RolloutStatus } from '@sluice/shared/fleet/rollout';
import { baselineOf, evaluateGate, shippingRates, type GateAgentInput, type GateHealth } from '@sluice/shared/fleet/rollout-gate';

const status = (changes: Partial<RolloutStatus> = {}): RolloutStatus => ({ state: 'pending', wave: -1, waveCount: 3, phase: 'applying', phaseStartedAt: 0, ...changes });

describe('rollout transitions', () => {
  it('walks pending → waves → completed, opening each wave once and completing at the last', () => {
    let s = status();
    const effects: string[] = [];
    const step = (event: Parameters<typeof transition>[1]): void => {
      const next = transition(s, event);
      s = next.status;
      effects.push(...next.effects.map((e) => (e.kind === 'open-wave' ? `open ${e.wave}` : e.kind)));
    };
    step({ kind: 'start', now: 1 });
    for (let wave = 0; wave < 3; wave += 1) {
      expect(s).toMatchObject({ state: 'running', wave, phase: 'applying' });
      step({ kind: 'wave-applied', now: 2 });
      expect(s.phase).toBe('soaking');
      step({ kind: 'gate-passed', now: 3 });
    }
    expect(s.state).toBe('completed');
    expect(effects).toEqual(['open 0', 'open 1', 'open 2', 'complete']);
  });

  it('a failed gate reverts the opened waves only, then ends rolled-back', () => {
    const failed = transition(status({ state: 'running', wave: 1 }), { kind: 'gate-failed', now: 5, reason: 'canary failed' });
    expect(failed.status).toMatchObject({ state: 'rolling-back', reason: 'canary failed', phaseStartedAt: 5 });
    expect(failed.effects).toEqual([{ kind: 'revert', upToWave: 1 }]);
    expect(transition(failed.status, { kind: 'reverted', now: 6 }).status.state).toBe('rolled-back');
  });

  it('pause freezes, resume restarts the phase clock, abort reverts, and a finished rollout refuses', () => {
    const paused = transition(status({ state: 'running', wave: 0, phaseStartedAt: 1 }), { kind: 'pause', now: 2 }).status;
    expect(paused.state).toBe('paused');
    expect(transition(paused, { kind: 'resume', now: 9 }).status).toMatchObject({ state: 'running', phaseStartedAt: 9 });
    expect(transition(paused, { kind: 'abort', now: 9, reason: 'by ops' }).effects).toEqual([{ kind: 'revert', upToWave: 0 }]);
    expect(transition(status({ state: 'completed', wave: 2 }), { kind: 'rollback', now: 9, reason: 'r' }).effects).toEqual([{ kind: 'revert', upToWave: 2 }]);
    expect(() => transition(status({ state: 'aborted' }), { kind: 'pause', now: 1 })).toThrow(RolloutTransitionError);
    expect(() => transition(status({ state: 'rolled-back' }), { kind: 'resume', now: 1 })).toThrow('a rolled-back rollout cannot resume');
    expect(transition(status({ waveCount: 0 }), { kind: 'start', now: 1 }).effects).toEqual([{ kind: 'complete' }]);
  });

  it('plans canaries then waves from a fixed order; named canaries come first, the last wave takes the rest', () => {
    const order = Array.from({ length: 10 }, (_, i) => `a${i}`);
    expect(planWaves(order, { kind: 'staged', canary: { percent: 10 }, waves: [{ percent: 50 }, { percent: 50 }] })).toEqual([['a0'], ['a1', 'a2', 'a3', 'a4', 'a5'], ['a6', 'a7', 'a8', 'a9']]);
    expect(planWaves(order, { kind: 'staged', canary: { agents: ['a7'] }, waves: [{ percent: 30 }] }).map((w) => w.length)).toEqual([1, 9]);
    expect(planWaves(['x'], { kind: 'staged', canary: { percent: 50 }, waves: [{ percent: 100 }] })).toEqual([['x']]);
  });
});

const T0 = Date.parse('2026-01-01T00:00:00Z');
const health = (atS: number, shipped: number, extra: Partial<GateHealth> = {}): GateHealth => ({
  at: new Date(T0 + atS * 1000).toISOString(),
  startedAt: new Date(T0 - 3_600_000).toISOString(),
  sources: [],
  outbox: { rows: 0 },
  breakers: [],
  datasets: [{ dataset: 'app', shipped }],
  ...extra,
});

const agent = (changes: Partial<GateAgentInput> = {}): GateAgentInput => ({
  agentId: 'gw-1',
  lastSeenAt: T0 + 100_000,
  reportedHash: 'h2',
  applyState: 'applied',
  baseline: { rates: { app: 10 }, openBreakers: 0, outboxRows: 0, at: T0 },
  soakStart: health(0, 1000),
  current: health(100, 2000),
  ...changes,
});

const soak = (agents: GateAgentInput[], now = T0 + 100_000) =>
  evaluateGate({ now, phase: 'soaking', phaseStartedAt: T0, soakSeconds: 60, settings: GATE_DEFAULTS, targetHash: 'h2', agents });

describe('health gate', () => {
  it('passes an agent shipping at its own rate after the soak, waits before it', () => {
    expect(soak([agent()]).verdict).toBe('pass');
    expect(soak([agent()], T0 + 30_000).verdict).toBe('waiting');
    // Soak over, but the agent's last check-in is from before its end: wait for one that covers it.
    expect(soak([agent({ lastSeenAt: T0 + 50_000 })], T0 + 70_000).verdict).toBe('waiting');
  });

  it('fails below minShippingRatio of the agent’s own rate, ignoring datasets it did not ship before', () => {
    const slow = soak([agent({ current: health(100, 1400) })]);
    expect(slow.verdict).toBe('fail');
    expect(slow.reason).toContain('ships app at 4 records/s, below 0.5 × its 10 records/s');
    expect(soak([agent({ baseline: { rates: { app: 0 }, openBreakers: 0, outboxRows: 0, at: T0 }, current: health(100, 1000) })]).verdict).toBe('pass');
  });

  it('fails on an apply failure, a silent agent, new source errors, open breakers and outbox growth', () => {
    expect(soak([agent({ failure: 'rolled-back (bad regex)' })], T0 + 10_000).reason).toContain('reported rolled-back (bad regex) for the new revision');
    expect(soak([agent({ lastSeenAt: T0 })], T0 + 200_000).reason).toContain('has not checked in for 200 s');
    const errors = soak([agent({ current: health(100, 2000, { sources: [{ id: 'app', lastError: { at: new Date(T0 + 5000).toISOString(), message: 'EACCES' } }] }) })]);
    expect(errors.reason).toContain('1 source(s) report new errors (maxSourceErrors 0): app: EACCES');
    expect(soak([agent({ current: health(100, 2000, { breakers: [{ state: 'open' }] }) })]).reason).toContain('1 more breaker(s) open');
    expect(soak([agent({ current: health(100, 2000, { outbox: { rows: 200_000 } }) })]).reason).toContain('outbox grew by 200000 rows');
    expect(soak([agent({ current: null })]).reason).toContain('reported no health during the soak');
  });

  it('applying: applied once every agent runs the target; a timeout fails', () => {
    const applying = (agents: GateAgentInput[], now: number) => evaluateGate({ now, phase: 'applying', phaseStartedAt: T0, soakSeconds: 60, settings: GATE_DEFAULTS, targetHash: 'h2', agents });
    expect(applying([agent()], T0 + 1000).verdict).toBe('applied');
    expect(applying([agent({ reportedHash: 'h1' })], T0 + 1000).verdict).toBe('waiting');
    const late = applying([agent({ reportedHash: 'h1', lastSeenAt: T0 + 179_000 })], T0 + 181_000);
    expect(late.verdict).toBe('fail');
    expect(late.reason).toContain('did not report applied within 180 s');
  });

  it('measures rates across a restart from the new process’s own start, and a baseline from one snapshot', () => {
    const restarted = { ...health(100, 300), startedAt: new Date(T0 + 70_000).toISOString() };
    expect(shippingRates(health(0, 1000), restarted)).toEqual({ app: 10 });
    expect(shippingRates(health(0, 1000), health(0, 1000))).toBeUndefined();
    expect(baselineOf([health(0, 36_000)], T0)?.rates).toEqual({ app: 10 });
    expect(baselineOf([health(0, 36_000), health(60, 36_600)], T0)?.rates).toEqual({ app: 10 });
  });

  it('takes the baseline rate as the median of the window, so a catch-up burst after a start does not raise it', () => {
    // 265 records/s for 10 s (the backlog), then a steady 50/s: the window's average would be ~104/s.
    const window = [health(0, 36_000), health(10, 38_650), health(20, 39_150), health(30, 39_650), health(40, 40_150)];
    expect(baselineOf(window, T0)?.rates).toEqual({ app: 50 });
  });
});
