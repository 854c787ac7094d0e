/**
 * The anomaly schedule a run injects: what, when (in event time, from the run's start) and to whom.
 *
 *   spike    the whole stream's rate × factor (a burst of volume)
 *   silence  one entity (a device, user or service) sends nothing; without a target, the whole stream stops
 *   shift    a numeric field + delta for one entity or all (a level shift; a short one is a value spike)
 *
 * Given as flags (`--anomaly shift@15m+10m:delta=6,target=dev-00003`) or a JSON/YAML file
 * (`{"anomalies": [{"kind": "shift", "at": "15m", "duration": "10m", "delta": 6}]}`). The summary prints each
 * one resolved to absolute event times, which is what a detection test checks against.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type AnomalyKind = 'spike' | 'silence' | 'shift';
const KINDS: readonly AnomalyKind[] = ['spike', 'silence', 'shift'];

export interface AnomalySpec {
  kind: AnomalyKind;
  /** Offset from the run's start, in event time: "90s", "5m", "1h30m", "250ms" or a number of seconds. */
  at: string | number;
  duration: string | number;
  /** silence/shift: the entity's id (e.g. dev-00003, user-0042, api); none means every one. */
  target?: string;
  /** spike: rate multiplier (default 5). */
  factor?: number;
  /** shift: added to the field (default: 3 standard units of the scenario's field, see the scenario). */
  delta?: number;
  /** shift: the payload field (default: the scenario's main measure). */
  field?: string;
}

/** An anomaly placed on the run's timeline. */
export interface ScheduledAnomaly {
  kind: AnomalyKind;
  /** Event-time window [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  target: string | null;
  factor?: number;
  delta?: number;
  field?: string;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1h30m", "90s", "250ms", "2.5m" or a plain number of seconds, as milliseconds. */
export function parseDuration(value: string | number, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`${what}: ${value} is not a duration (a number of seconds ≥ 0)`);
    return value * 1000;
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new Error(`${what}: "${value}" is not a duration (e.g. 90s, 5m, 1h30m, 250ms)`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0);
}

function number(value: string, what: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${what}: "${value}" is not a number`);
  return n;
}

/** `kind@at+duration[:key=value,…]`, e.g. `spike@5m+1m:factor=4` or `silence@10m+5m:target=dev-00003`. */
export function parseAnomalyFlag(flag: string): AnomalySpec {
  const match = /^([a-z]+)@([^+:]+)\+([^:]+)(?::(.*))?$/.exec(flag.trim());
  if (!match)
    throw new Error(
      `--anomaly "${flag}": expected kind@at+duration[:key=value,…], e.g. spike@5m+1m:factor=4`,
    );
  const [, kind = '', at = '', duration = '', options] = match;
  const spec: Record<string, unknown> = { kind, at, duration };
  for (const pair of (options ?? '').split(',').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--anomaly "${flag}": "${pair}" is not key=value`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    spec[key] = key === 'factor' || key === 'delta' ? number(value, `--anomaly "${flag}" ${key}`) : value;
  }
  return checkSpec(spec, `--anomaly "${flag}"`);
}

/** A JSON or YAML file: `{anomalies: [...]}` or the list itself. */
export function readAnomalyFile(path: string): AnomalySpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8')); // YAML is a superset of JSON
  } catch (error) {
    throw new Error(`${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const list = Array.isArray(doc) ? doc : (doc as { anomalies?: unknown } | null)?.anomalies;
  if (!Array.isArray(list)) throw new Error(`${path}: expected a list of anomalies or {"anomalies": [...]}`);
  return list.map((item, i) => checkSpec(item, `${path}: anomalies[${i}]`));
}

const KEYS = new Set(['kind', 'at', 'duration', 'target', 'factor', 'delta', 'field']);

function checkSpec(value: unknown, where: string): AnomalySpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${where}: expected an object`);
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v))
    if (!KEYS.has(key)) throw new Error(`${where}: unknown key "${key}" (known: ${[...KEYS].join(', ')})`);
  if (!KINDS.includes(v.kind as AnomalyKind))
    throw new Error(`${where}: kind must be one of ${KINDS.join(', ')}`);
  const kind = v.kind as AnomalyKind;
  for (const key of ['at', 'duration'] as const) {
    if (typeof v[key] !== 'string' && typeof v[key] !== 'number')
      throw new Error(`${where}: ${key} is required (e.g. "5m")`);
    parseDuration(v[key], `${where}: ${key}`);
  }
  if (parseDuration(v.duration as string | number, where) <= 0)
    throw new Error(`${where}: duration must be more than 0`);
  if (v.target !== undefined && (typeof v.target !== 'string' || v.target === ''))
    throw new Error(`${where}: target must be an entity id`);
  if (kind === 'spike') {
    if (v.target !== undefined)
      throw new Error(`${where}: a spike multiplies the whole stream's rate; it takes no target`);
    if (v.factor !== undefined && (typeof v.factor !== 'number' || !(v.factor > 0)))
      throw new Error(`${where}: factor must be a number > 0`);
  } else if (v.factor !== undefined) throw new Error(`${where}: factor is for spikes only`);
  if (kind === 'shift') {
    if (v.delta !== undefined && (typeof v.delta !== 'number' || !Number.isFinite(v.delta)))
      throw new Error(`${where}: delta must be a number`);
    if (v.field !== undefined && (typeof v.field !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.field)))
      throw new Error(`${where}: field must be a top-level payload field name`);
  } else if (v.delta !== undefined || v.field !== undefined)
    throw new Error(`${where}: delta and field are for shifts only`);
  return v as unknown as AnomalySpec;
}

/** Places specs on the timeline of a run starting at `startMs` (event time). */
export function schedule(
  specs: readonly AnomalySpec[],
  startMs: number,
  defaults: { field: string; delta: number },
): ScheduledAnomaly[] {
  return specs.map((spec) => {
    const fromMs = startMs + parseDuration(spec.at, 'at');
    const toMs = fromMs + parseDuration(spec.duration, 'duration');
    const base = { kind: spec.kind, fromMs, toMs, target: spec.target ?? null };
    if (spec.kind === 'spike') return { ...base, factor: spec.factor ?? 5 };
    if (spec.kind === 'shift')
      return { ...base, delta: spec.delta ?? defaults.delta, field: spec.field ?? defaults.field };
    return base;
  });
}

/** The anomaly as the summary prints it: ISO times, only the keys that apply. */
export function describeAnomaly(a: ScheduledAnomaly, affected: number): Record<string, unknown> {
  return {
    kind: a.kind,
    from: new Date(a.fromMs).toISOString(),
    to: new Date(a.toMs).toISOString(),
    target: a.target,
    ...(a.factor === undefined ? {} : { factor: a.factor }),
    ...(a.delta === undefined ? {} : { delta: a.delta, field: a.field }),
    /** spike: events sent in the window; silence: events not sent; shift: events whose field was shifted. */
    events: affected,
  };
}
