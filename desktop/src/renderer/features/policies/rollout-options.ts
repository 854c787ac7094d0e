/**
 * The publish form's rollout options and the strategy POST …/rollouts takes (rolloutStrategySchema in
 * shared/src/fleet/rollout.ts): all at once, or canaries (a share of the agents, or named ones), then waves,
 * each wave soaking behind the health gate. Gate fields left empty are not sent, so the server's
 * GATE_DEFAULTS apply.
 */
import { GATE_DEFAULTS, gateSchema, type GateSettings } from '@sluice/shared/fleet/rollout';
import type { RolloutStrategy } from '../../api/policies.ts';

export interface RolloutOptions {
  kind: 'all' | 'staged';
  canaryBy: 'percent' | 'agents';
  canaryPercent: string;
  /** Agent ids, comma- or space-separated. */
  canaryAgents: string;
  /** Wave shares, comma-separated: "50, 50". */
  waves: string;
  soakSeconds: string;
  gate: Partial<Record<keyof GateSettings, string>>;
}

export const DEFAULT_ROLLOUT_OPTIONS: RolloutOptions = { kind: 'staged', canaryBy: 'percent', canaryPercent: '10', canaryAgents: '', waves: '50, 50', soakSeconds: '300', gate: {} };

export const GATE_FIELDS = Object.keys(GATE_DEFAULTS) as (keyof GateSettings)[];

/** A gate field as the form labels it (`minShippingRatio` → "min shipping ratio"), and what it means. */
export const gateLabel = (field: keyof GateSettings): string => field.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
export const gateHint = (field: keyof GateSettings): string => gateSchema.properties[field].description.replace(/^\(default [^)]*\) /, '');

export type StrategyResult = { ok: true; strategy: RolloutStrategy } | { ok: false; problems: string[] };

export function strategyOf(options: RolloutOptions): StrategyResult {
  if (options.kind === 'all') return { ok: true, strategy: { kind: 'all' } };
  const problems: string[] = [];
  const percent = (text: string, what: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 100) problems.push(`${what} must be a percentage above 0, at most 100`);
    return n;
  };
  const canary = options.canaryBy === 'percent' ? { percent: percent(options.canaryPercent, 'canaries') } : { agents: canaryAgents(options.canaryAgents, problems) };
  const waves = options.waves.trim() === '' ? [] : options.waves.split(',').map((w, i) => ({ percent: percent(w.trim(), `wave ${String(i + 1)}`) }));
  const soak = Number(options.soakSeconds);
  if (options.soakSeconds.trim() === '' || !Number.isInteger(soak) || soak < 0) problems.push('soak must be whole seconds, 0 or more');
  const gate: Partial<GateSettings> = {};
  for (const field of GATE_FIELDS) {
    const text = options.gate[field]?.trim() ?? '';
    if (text === '') continue;
    const n = Number(text);
    const { minimum, maximum } = gateSchema.properties[field] as { minimum: number; maximum?: number };
    const integer = gateSchema.properties[field].type === 'integer';
    if (!Number.isFinite(n) || n < minimum || (maximum !== undefined && n > maximum) || (integer && !Number.isInteger(n))) {
      problems.push(`${gateLabel(field)} must be ${integer ? 'a whole number' : 'a number'} from ${String(minimum)}${maximum === undefined ? ' up' : ` to ${String(maximum)}`}`);
    }
    gate[field] = n;
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, strategy: { kind: 'staged', canary, waves, soakSeconds: soak, gate } };
}

function canaryAgents(text: string, problems: string[]): string[] {
  const ids = [...new Set(text.split(/[\s,]+/).filter((id) => id !== ''))];
  if (ids.length === 0) problems.push('name at least one canary agent');
  return ids;
}
