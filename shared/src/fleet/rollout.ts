/**
 * A rollout moves the agents of one policy from its current revision (`from`) to another (`to`), as pure
 * transition functions (the engine in control-plane/src/fleet/rollout-engine.ts persists each step in
 * PostgreSQL and performs its effects in the same transaction; the console can replay them).
 *
 *                 start            every agent of wave k                 soak passed, the gate holds
 *   pending ──────────────▶ running(k, applying) ──────────▶ running(k, soaking) ───────────────┐
 *                               ▲  reports `applied` of `to`        │                           │
 *                               │                                   │ gate fails (any phase)     │ k = last
 *                               └────────── open wave k+1 ◀─────────┼────────────────────────────┤
 *                                                                   ▼                            ▼
 *   pause: running ⇄ paused (resume restarts the     rolling-back ──▶ rolled-back            completed
 *   phase's clock)                                   (opened agents back on `from`)
 *   abort: pending/running/paused ──▶ aborted (opened agents back on `from`, no later wave opens)
 *   rollback (operator): running/paused/completed ──▶ rolling-back ──▶ rolled-back
 *
 * Abort returns the agents already moved to `from`, like a failed gate: an aborted rollout leaves no fleet
 * half on one revision and half on another (drift nobody asked for). To keep a partial state, pause.
 * A gate failure, an abort and a rollback only ever touch agents of opened waves: later waves never receive
 * `to`.
 */
import type { FromSchema } from 'json-schema-to-ts';

export const gateSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'The health gate each wave must hold for `soakSeconds` before the next wave opens; defaults in GATE_DEFAULTS.',
  properties: {
    minShippingRatio: { type: 'number', minimum: 0, maximum: 10, description: "(default 0.5) Each agent's records shipped per second, per dataset, during the soak, at least this share of its own rate before the rollout (datasets it shipped nothing of before are ignored)." },
    maxSourceErrors: { type: 'integer', minimum: 0, description: '(default 0) Sources of one agent that report a new error after its wave opened, at most.' },
    maxOpenBreakers: { type: 'integer', minimum: 0, description: '(default 0) Circuit breakers open on one agent beyond those open before the rollout, at most.' },
    maxOutboxGrowthRows: { type: 'integer', minimum: 0, description: "(default 100000) Growth of one agent's outbox (records waiting to ship) since its wave opened, at most." },
    applyTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86_400, description: '(default 180) Every agent of a wave must report `applied` of the new revision within this, or the gate fails.' },
    maxSilenceSeconds: { type: 'integer', minimum: 1, maximum: 86_400, description: '(default 90) An agent of an opened wave silent (no check-in) for longer fails the gate.' },
    baselineSeconds: { type: 'integer', minimum: 10, maximum: 86_400, description: "(default 600) The window before a wave opens over which each agent's own shipping rate is measured." },
  },
} as const;

export const rolloutStrategySchema = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      description: 'Every selected agent at once, no gate: the revision becomes current immediately.',
      properties: { kind: { const: 'all' } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'canary'],
      description: 'Canaries, then waves; each wave opens only after the previous one held the gate for soakSeconds.',
      properties: {
        kind: { const: 'staged' },
        canary: {
          oneOf: [
            { type: 'object', additionalProperties: false, required: ['percent'], properties: { percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 } } },
            { type: 'object', additionalProperties: false, required: ['agents'], properties: { agents: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: { type: 'string', minLength: 1 } } } },
          ],
        },
        waves: {
          type: 'array',
          maxItems: 100,
          description: 'Shares of the agents left after the canaries; the last wave takes whatever is left (default one wave of 100).',
          items: { type: 'object', additionalProperties: false, required: ['percent'], properties: { percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 } } },
        },
        soakSeconds: { type: 'integer', minimum: 0, maximum: 604_800, description: 'How long each wave must hold the gate once all its agents applied (default 300).' },
        gate: gateSchema,
      },
    },
  ],
} as const;

export type RolloutStrategy = FromSchema<typeof rolloutStrategySchema>;
export type StagedStrategy = Extract<RolloutStrategy, { kind: 'staged' }>;
// No `default` in these schemas: defaults inside a oneOf are not applied by ajv (strict mode refuses them),
// so normalizeStrategy (rollout-store.ts) fills them from GATE_DEFAULTS and stores the result.
export type GateSettings = Required<FromSchema<typeof gateSchema>>;

export const GATE_DEFAULTS: GateSettings = {
  minShippingRatio: 0.5,
  maxSourceErrors: 0,
  maxOpenBreakers: 0,
  maxOutboxGrowthRows: 100_000,
  applyTimeoutSeconds: 180,
  maxSilenceSeconds: 90,
  baselineSeconds: 600,
};

export const ROLLOUT_STATES = ['pending', 'running', 'paused', 'completed', 'rolling-back', 'rolled-back', 'aborted'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];
/** The states in which a rollout still owns its policy's agents (one per policy). */
export const ACTIVE_ROLLOUT_STATES: readonly RolloutState[] = ['pending', 'running', 'paused', 'rolling-back'];
export type RolloutPhase = 'applying' | 'soaking';

export interface RolloutStatus {
  state: RolloutState;
  /** The wave opened last (0 = canaries); -1 before the first. */
  wave: number;
  waveCount: number;
  phase: RolloutPhase;
  /** When the current phase's clock started (wave opened, soak began, resumed), ms since the epoch. */
  phaseStartedAt: number;
  reason?: string | undefined;
}

export type RolloutEvent =
  | { kind: 'start'; now: number }
  | { kind: 'wave-applied'; now: number }
  | { kind: 'gate-passed'; now: number }
  | { kind: 'gate-failed'; now: number; reason: string }
  | { kind: 'reverted'; now: number }
  | { kind: 'pause'; now: number }
  | { kind: 'resume'; now: number }
  | { kind: 'abort'; now: number; reason: string }
  | { kind: 'rollback'; now: number; reason: string };

/** What the engine does alongside a transition, in the same transaction. */
export type RolloutEffect =
  | { kind: 'open-wave'; wave: number }
  /** Every agent of waves 0..upToWave still on `to` goes back to `from`. */
  | { kind: 'revert'; upToWave: number }
  /** `to` becomes the policy's current revision (agents that joined meanwhile get it too). */
  | { kind: 'complete' };

export class RolloutTransitionError extends Error {
  override readonly name = 'RolloutTransitionError';
}

export function initialStatus(waveCount: number, now: number): RolloutStatus {
  return { state: 'pending', wave: -1, waveCount, phase: 'applying', phaseStartedAt: now };
}

export function isActive(state: RolloutState): boolean {
  return ACTIVE_ROLLOUT_STATES.includes(state);
}

/** The next status and its effects; an event the state does not accept throws RolloutTransitionError. */
export function transition(status: RolloutStatus, event: RolloutEvent): { status: RolloutStatus; effects: RolloutEffect[] } {
  const refuse = (): never => {
    throw new RolloutTransitionError(`a ${status.state} rollout cannot ${event.kind}`);
  };
  const at = (changes: Partial<RolloutStatus>): RolloutStatus => ({ ...status, ...changes });
  switch (event.kind) {
    case 'start':
      if (status.state !== 'pending') return refuse();
      if (status.waveCount === 0) return { status: at({ state: 'completed', phaseStartedAt: event.now }), effects: [{ kind: 'complete' }] };
      return { status: at({ state: 'running', wave: 0, phase: 'applying', phaseStartedAt: event.now }), effects: [{ kind: 'open-wave', wave: 0 }] };
    case 'wave-applied':
      if (status.state !== 'running' || status.phase !== 'applying') return refuse();
      return { status: at({ phase: 'soaking', phaseStartedAt: event.now }), effects: [] };
    case 'gate-passed': {
      if (status.state !== 'running' || status.phase !== 'soaking') return refuse();
      const next = status.wave + 1;
      if (next >= status.waveCount) return { status: at({ state: 'completed', phaseStartedAt: event.now }), effects: [{ kind: 'complete' }] };
      return { status: at({ wave: next, phase: 'applying', phaseStartedAt: event.now }), effects: [{ kind: 'open-wave', wave: next }] };
    }
    case 'gate-failed':
      if (status.state !== 'running') return refuse();
      return { status: at({ state: 'rolling-back', phaseStartedAt: event.now, reason: event.reason }), effects: [{ kind: 'revert', upToWave: status.wave }] };
    case 'reverted':
      if (status.state !== 'rolling-back') return refuse();
      return { status: at({ state: 'rolled-back', phaseStartedAt: event.now }), effects: [] };
    case 'pause':
      if (status.state !== 'running') return refuse();
      return { status: at({ state: 'paused' }), effects: [] };
    case 'resume':
      if (status.state !== 'paused') return refuse();
      return { status: at({ state: 'running', phaseStartedAt: event.now }), effects: [] };
    case 'abort':
      if (status.state !== 'pending' && status.state !== 'running' && status.state !== 'paused') return refuse();
      return {
        status: at({ state: 'aborted', phaseStartedAt: event.now, reason: event.reason }),
        effects: status.wave >= 0 ? [{ kind: 'revert', upToWave: status.wave }] : [],
      };
    case 'rollback':
      if (status.state !== 'running' && status.state !== 'paused' && status.state !== 'completed') return refuse();
      return {
        status: at({ state: 'rolling-back', phaseStartedAt: event.now, reason: event.reason }),
        effects: [{ kind: 'revert', upToWave: status.state === 'completed' ? status.waveCount - 1 : status.wave }],
      };
  }
}

/**
 * Splits the selected agents into waves: named canaries first (or the first `percent` of the order), then
 * each wave a share of the rest; the last wave takes what is left, empty waves are dropped. `order` is the
 * agents in a deterministic order (the engine sorts by a hash of the agent id), so a restarted control plane
 * or a retried request picks the same agents.
 */
export function planWaves(order: readonly string[], strategy: StagedStrategy): string[][] {
  const canary = 'agents' in strategy.canary ? order.filter((id) => (strategy.canary as { agents: string[] }).agents.includes(id)) : order.slice(0, Math.max(1, Math.ceil((order.length * strategy.canary.percent) / 100)));
  const rest = order.filter((id) => !canary.includes(id));
  const waves: string[][] = [canary];
  const shares = strategy.waves ?? [{ percent: 100 }];
  let taken = 0;
  let cumulative = 0;
  shares.forEach((share, i) => {
    cumulative = Math.min(100, cumulative + share.percent);
    const end = i === shares.length - 1 ? rest.length : Math.min(rest.length, Math.ceil((rest.length * cumulative) / 100));
    waves.push(rest.slice(taken, end));
    taken = end;
  });
  if (taken < rest.length) waves.push(rest.slice(taken));
  return waves.filter((wave) => wave.length > 0);
}
