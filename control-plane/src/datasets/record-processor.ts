/**
 * A dataset version's transforms and quality rules (docs/transforms.md), compiled once per version and used
 * by the consumer's intake (record-intake.ts) and by the dry-run route alike, so what a dry run shows is what
 * the consumer does:
 *
 *   decode ──► transforms (rename, drop, set, derive, enrich, lookup) ──► event time ──► schema ──► rules
 *
 * A transform that cannot be applied (an expression that fails or runs out of time, a lookup row required and
 * missing) answers a reason: the record goes to the DLQ with it. Expressions are JSONata with a time and
 * depth limit per evaluation, and regular expressions run on RE2 (linear time). An expression that ran out of
 * time STRIKES times in a row is not evaluated for BENCH_MS: its records go straight to the DLQ, so one slow
 * expression cannot hold the batch (and the datasets in it) for its time limit on every record.
 *
 * Rule outcomes are pass | warn | fail; a failing `fail` rule dead-letters the record with the rule's name.
 */
import jsonata from 'jsonata';
import RE2 from 're2';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { atPointer, parsePointer } from '@sluice/shared/json-pointer';
import type { EnrichFrom, QualityRule, TransformSpec } from '@sluice/shared/transforms';
import { InputError } from '@sluice/shared/errors';

const STRIKES = 3;
const BENCH_MS = 60_000;
const MAX_DEPTH = 200;
const DEFAULT_TIMEOUT_MS = 50;
const MAX_PAD_WIDTH = 100_000;

/** What transforms read besides the record: lookup tables and the agents' labels (reference-data.ts). */
export interface ReferenceData {
  /** Loads what the given tables and labels need (at most once per refresh interval); call before a batch. */
  prepare(tables: readonly string[], labels: boolean): Promise<void>;
  lookup(table: string, key: string): { found: boolean; value?: unknown };
  agentLabels(agentId: string): Record<string, string> | undefined;
}

export type RuleOutcome = { rule: string; outcome: 'pass' | 'warn' | 'fail'; reason?: string; value?: unknown };

interface Expression {
  text: string;
  timeoutMs: number;
  compiled: ReturnType<typeof jsonata>;
  strikes: number;
  benchedUntil: number;
}

function compile(text: string, timeoutMs: number | undefined, where: string): Expression {
  let compiled: ReturnType<typeof jsonata>;
  const limit = timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    // The limits are measured per evaluation (JSONata's guardrails start their clock in evaluate()).
    compiled = jsonata(text, { RegexEngine: RE2 as unknown as RegExpConstructor, timeout: limit, stack: MAX_DEPTH });
  } catch (error) {
    throw InputError(`${where}: the expression does not parse: ${(error as { message?: string }).message ?? String(error)}`);
  }
  compiled.registerFunction('pad', boundedPad, '<s-ns?:s>');
  return { text, timeoutMs: limit, compiled, strikes: 0, benchedUntil: 0 };
}

/**
 * JSONata's `$pad`, with the width bounded. The time limit is checked between evaluation steps, and one call
 * builds its whole result in one step: `$pad("x", 100000000)` held the event loop for 5 s (and made a string
 * larger than the consumer's heap) before the limit could say anything.
 */
function boundedPad(str: string | undefined, width: number, char?: string): string | undefined {
  if (str === undefined) return undefined;
  const w = Math.trunc(width);
  if (Math.abs(w) > MAX_PAD_WIDTH) throw new Error(`$pad width ${w} is over the limit of ${MAX_PAD_WIDTH}`);
  const padLength = Math.abs(w) - Array.from(str).length;
  if (padLength <= 0) return str;
  const fill = char === undefined || char === '' ? ' ' : char;
  const padding = Array.from(fill.repeat(Math.ceil(padLength / Array.from(fill).length)))
    .slice(0, padLength)
    .join('');
  return w > 0 ? str + padding : padding + str;
}

/** Checks a version's transforms and rules before it is published (the expressions parse); throws InputError. */
export function checkProcessing(transforms: readonly TransformSpec[] = [], rules: readonly QualityRule[] = []): void {
  new RecordProcessor({ spec: { name: 'check', sinks: {} }, version: 0, schema: {}, transforms: [...transforms], rules: [...rules] });
}

interface CompiledTransform {
  spec: TransformSpec;
  expression?: Expression;
  /** `transforms[i]`: where a reason points. */
  where: string;
}

interface CompiledRule {
  rule: QualityRule;
  expression?: Expression;
  seen?: Map<string, { id: string; at: number }>;
}

const processors = new WeakMap<DatasetVersion, RecordProcessor>();

export class RecordProcessor {
  readonly #transforms: CompiledTransform[];
  readonly #rules: CompiledRule[];
  readonly tables: string[];
  readonly labels: boolean;

  /** The version's processor, compiled once; undefined when it has neither transforms nor rules. */
  static of(version: DatasetVersion): RecordProcessor | undefined {
    if ((version.transforms?.length ?? 0) === 0 && (version.rules?.length ?? 0) === 0) return undefined;
    let p = processors.get(version);
    if (!p) {
      p = new RecordProcessor(version);
      processors.set(version, p);
    }
    return p;
  }

  constructor(version: DatasetVersion) {
    this.#transforms = (version.transforms ?? []).map((spec, i) => {
      const where = `transforms[${i}]`;
      return 'derive' in spec ? { spec, where, expression: compile(spec.derive.expression, spec.derive.timeoutMs, where) } : { spec, where };
    });
    this.#rules = (version.rules ?? []).map((rule) => ({
      rule,
      ...(rule.expression ? { expression: compile(rule.expression.expression, rule.expression.timeoutMs, `rule ${rule.name}`) } : {}),
      ...(rule.unique ? { seen: new Map<string, { id: string; at: number }>() } : {}),
    }));
    this.tables = [...new Set(this.#transforms.flatMap((t) => ('lookup' in t.spec ? [t.spec.lookup.table] : [])))];
    this.labels = this.#transforms.some((t) => 'enrich' in t.spec && t.spec.enrich.from === 'agentLabels');
  }

  get hasTransforms(): boolean {
    return this.#transforms.length > 0;
  }

  get hasRules(): boolean {
    return this.#rules.length > 0;
  }

  /** The payload after the transforms (a copy; the envelope is not changed), or why not. */
  async transform(envelope: Envelope, refs: ReferenceData): Promise<{ payload: unknown } | { reason: string }> {
    let payload: unknown = structuredClone(envelope.payload);
    for (const t of this.#transforms) {
      let step: { payload: unknown } | { reason: string };
      try {
        step = await this.#apply(t, payload, envelope, refs);
      } catch (error) {
        // A step the payload's shape breaks (an array's `length` set to a string, say): this record's DLQ reason,
        // never an error that fails the whole batch again and again.
        return { reason: `${t.where}: could not be applied: ${(error as Error).message}` };
      }
      if ('reason' in step) return step;
      payload = step.payload;
    }
    return { payload };
  }

  /** One transform applied to `payload` (changed in place where it can be): the payload after it, or why not. */
  async #apply(t: CompiledTransform, payload: unknown, envelope: Envelope, refs: ReferenceData): Promise<{ payload: unknown } | { reason: string }> {
    const s = t.spec;
    if ('rename' in s) {
      const value = atPointer(payload, s.rename.from);
      if (value === undefined) return { payload };
      removeAt(payload, s.rename.from);
      return { payload: setAt(payload, s.rename.to, value) };
    }
    if ('drop' in s) {
      for (const field of s.drop) removeAt(payload, field);
      return { payload };
    }
    if ('set' in s) return { payload: setAt(payload, s.set.field, structuredClone(s.set.value)) };
    if ('enrich' in s) {
      const value = enrichment(envelope, s.enrich.from, refs);
      return { payload: value === undefined ? payload : setAt(payload, s.enrich.field, value) };
    }
    if ('lookup' in s) {
      const key = atPointer(payload, s.lookup.key);
      const row = key === undefined || key === null ? { found: false } : refs.lookup(s.lookup.table, typeof key === 'string' ? key : JSON.stringify(key));
      if (row.found) return { payload: setAt(payload, s.lookup.into, structuredClone(row.value)) };
      if ((s.lookup.missing ?? 'keep') === 'null') return { payload: setAt(payload, s.lookup.into, null) };
      if (s.lookup.missing === 'fail') return { reason: `${t.where} lookup ${s.lookup.table}: no row for ${JSON.stringify(key ?? null)}` };
      return { payload };
    }
    const result = await evaluate(t.expression!, payload, envelope);
    if ('reason' in result) return { reason: `${t.where} derive ${s.derive.field}: ${result.reason}` };
    return { payload: result.value === undefined ? (removeAt(payload, s.derive.field), payload) : setAt(payload, s.derive.field, result.value) };
  }

  /** Every rule's outcome for a record whose payload passed the schema. */
  async judge(envelope: Envelope, now = Date.now()): Promise<RuleOutcome[]> {
    const out: RuleOutcome[] = [];
    for (const r of this.#rules) {
      const failed = await this.#check(r, envelope, now);
      const severity = r.rule.severity ?? 'fail';
      out.push(failed === undefined ? { rule: r.rule.name, outcome: 'pass' } : { rule: r.rule.name, outcome: severity, reason: failed.reason, ...(failed.value === undefined ? {} : { value: failed.value }) });
    }
    return out;
  }

  async #check(r: CompiledRule, envelope: Envelope, now: number): Promise<{ reason: string; value?: unknown } | undefined> {
    const { rule } = r;
    const payload = envelope.payload;
    if (rule.notEmpty !== undefined) {
      const v = atPointer(payload, rule.notEmpty);
      return isEmpty(v) ? { reason: `${rule.notEmpty} is empty`, value: v ?? null } : undefined;
    }
    if (rule.requiredIf) {
      const when = atPointer(payload, rule.requiredIf.when.field);
      if (!sameJson(when, rule.requiredIf.when.equals)) return undefined;
      const v = atPointer(payload, rule.requiredIf.field);
      return v === undefined || v === null ? { reason: `${rule.requiredIf.field} is required when ${rule.requiredIf.when.field} is ${JSON.stringify(rule.requiredIf.when.equals)}` } : undefined;
    }
    if (rule.range) {
      const v = atPointer(payload, rule.range.field);
      if (v === undefined || v === null) return undefined;
      const { min, max } = rule.range;
      if (typeof v !== 'number') return { reason: `${rule.range.field} is not a number`, value: v };
      if ((min !== undefined && v < min) || (max !== undefined && v > max)) return { reason: `${rule.range.field} = ${v} is outside [${min ?? '-∞'}, ${max ?? '∞'}]`, value: v };
      return undefined;
    }
    if (rule.allowed) {
      const v = atPointer(payload, rule.allowed.field);
      if (v === undefined) return undefined;
      return rule.allowed.values.some((a: unknown) => sameJson(a, v)) ? undefined : { reason: `${rule.allowed.field} = ${JSON.stringify(v)} is not an allowed value`, value: v };
    }
    if (rule.unique) {
      const v = atPointer(payload, rule.unique.field);
      if (v === undefined || v === null) return undefined;
      const key = JSON.stringify(v);
      const windowMs = (rule.unique.windowMinutes ?? 60) * 60_000;
      const seen = r.seen!;
      const prior = seen.get(key);
      // The same record delivered again is not a duplicate of itself.
      if (prior && prior.id !== envelope.id && now - prior.at < windowMs) return { reason: `${rule.unique.field} = ${key} was already seen ${Math.round((now - prior.at) / 1000)} s ago (record ${prior.id})`, value: v };
      seen.delete(key);
      seen.set(key, { id: envelope.id, at: now });
      if (seen.size > 100_000) for (const [k, e] of seen) if (now - e.at >= windowMs || seen.size > 100_000) seen.delete(k); else break;
      return undefined;
    }
    if (rule.freshness) {
      const skew = Date.parse(envelope.ingestTime) - Date.parse(envelope.eventTime);
      const { maxAgeSeconds, maxFutureSeconds } = rule.freshness;
      if (maxAgeSeconds !== undefined && skew > maxAgeSeconds * 1000) return { reason: `event time is ${Math.round(skew / 1000)} s before ingest time (at most ${maxAgeSeconds} s)`, value: envelope.eventTime };
      if (maxFutureSeconds !== undefined && -skew > maxFutureSeconds * 1000) return { reason: `event time is ${Math.round(-skew / 1000)} s after ingest time (at most ${maxFutureSeconds} s)`, value: envelope.eventTime };
      return undefined;
    }
    const result = await evaluate(r.expression!, payload, envelope);
    if ('reason' in result) return { reason: result.reason };
    return result.value === true ? undefined : { reason: `${r.expression!.text} is ${JSON.stringify(result.value ?? null)}, not true` };
  }
}

/** Runs an expression under its limits; ran out of time STRIKES times in a row, it is benched for a while. */
async function evaluate(e: Expression, payload: unknown, envelope: Envelope): Promise<{ value: unknown } | { reason: string }> {
  const now = Date.now();
  if (e.benchedUntil > now) return { reason: `the expression ran out of time (${e.timeoutMs} ms) ${STRIKES} times in a row; not evaluated until ${new Date(e.benchedUntil).toISOString()}` };
  try {
    const bindings = { envelope: { id: envelope.id, agentId: envelope.agentId, dataset: envelope.dataset, source: envelope.source, eventTime: envelope.eventTime, ingestTime: envelope.ingestTime } };
    const value: unknown = await e.compiled.evaluate(payload, bindings);
    // One step JSONata cannot interrupt (a large range, say) may overrun the limit: it counts as running out.
    if (Date.now() - now > e.timeoutMs) return strike(e, now);
    e.strikes = 0;
    return { value: plain(value) };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'D1012') return strike(e, now);
    if (code === 'D1011') return { reason: `the expression recursed deeper than ${MAX_DEPTH}` };
    return { reason: `the expression failed: ${(error as { message?: string }).message ?? String(error)}` };
  }
}

function strike(e: Expression, now: number): { reason: string } {
  e.strikes += 1;
  if (e.strikes >= STRIKES) {
    e.benchedUntil = now + BENCH_MS;
    e.strikes = 0;
  }
  return { reason: `the expression ran out of time (${e.timeoutMs} ms)` };
}

/** JSONata answers sequences (arrays with extra properties) and functions; stores take plain JSON. */
function plain(value: unknown): unknown {
  if (value === undefined || typeof value === 'function') return undefined;
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function enrichment(envelope: Envelope, from: EnrichFrom, refs: ReferenceData): unknown {
  switch (from) {
    case 'agentId':
      return envelope.agentId;
    case 'agentLabels':
      return refs.agentLabels(envelope.agentId) ?? {};
    case 'dataset':
      return envelope.dataset;
    case 'source':
      return structuredClone(envelope.source);
    case 'ingestTime':
      return envelope.ingestTime;
    case 'eventTime':
      return envelope.eventTime;
  }
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Sets the value at a pointer, making objects on the way; a non-object payload becomes `{}` first. Only own
 * fields are followed and written (as atPointer reads them): `/__proto__/x` is a field named `__proto__`,
 * never the prototype, so a transform (or a dry run's proposed one) cannot change Object.prototype.
 */
function setAt(document: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  const root = document !== null && typeof document === 'object' ? document : {};
  let current = root as Record<string, unknown>;
  for (const token of tokens.slice(0, -1)) {
    const next = Object.hasOwn(current, token) ? current[token] : undefined;
    if (next === null || typeof next !== 'object') setOwn(current, token, {});
    current = current[token] as Record<string, unknown>;
  }
  setOwn(current, tokens.at(-1)!, value);
  return root;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

function removeAt(document: unknown, pointer: string): void {
  const tokens = parsePointer(pointer);
  const parent = atPointer(document, tokens.slice(0, -1));
  if (parent === null || typeof parent !== 'object') return;
  const last = tokens.at(-1)!;
  if (Array.isArray(parent)) {
    if (/^(0|[1-9][0-9]*)$/.test(last)) parent.splice(Number(last), 1);
  } else if (Object.hasOwn(parent, last)) {
    delete (parent as Record<string, unknown>)[last];
  }
}
