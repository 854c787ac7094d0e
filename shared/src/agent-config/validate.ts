/**
 * The one validator of agent configuration, for the agent's YAML, the control plane's policies and the
 * console alike: JSON Schema with defaults (ajv), then the checks a schema cannot express that need nothing
 * of the machine (unique source ids, valid regular expressions). Every problem is `path: reason`, all at
 * once. Checks that need the machine (folders after realpath, the listen address) are the caller's `extra`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { agentConfigSchema, LOCAL_CONFIG_KEYS, type AgentConfig } from './index.ts';
import { pipelineConfigSchema, type PipelineConfig } from './pipeline.ts';

export interface ConfigProblem {
  path: string;
  reason: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; problems: ConfigProblem[] };

/** Checks the caller adds once the schema holds (the agent: allowed folders on its disk, http.token). */
export type ExtraChecks<T> = (value: T) => ConfigProblem[];

// The sources read their options' defaults from the validated config (no fallbacks in code), so strict mode
// throws on a default ajv would ignore (one inside a oneOf without a discriminator). `verbose` gives a
// discriminator error its schema, from which it names the valid values. Compiled on first use: importing
// this module costs nothing until something is validated.
let compiled: { agent: ValidateFunction; pipeline: ValidateFunction } | undefined;
function validators(): { agent: ValidateFunction; pipeline: ValidateFunction } {
  if (!compiled) {
    const ajv = new Ajv({ strict: true, allErrors: true, useDefaults: true, discriminator: true, verbose: true });
    compiled = { agent: ajv.compile(agentConfigSchema), pipeline: ajv.compile(pipelineConfigSchema) };
  }
  return compiled;
}

/**
 * The agent config (local settings + pipeline) with defaults applied. Validates a copy: the caller's value
 * is left as it was.
 */
export function validateAgentConfig(value: unknown, extra?: ExtraChecks<AgentConfig>): ValidationResult<AgentConfig> {
  return run<AgentConfig>(validators().agent, value, [], (config) => [...sourceProblems(config.sources), ...(extra?.(config) ?? [])]);
}

/** A pipeline (`{ sources }`, what a policy revision carries) with defaults applied; validates a copy. */
export function validatePipeline(value: unknown, extra?: ExtraChecks<PipelineConfig>): ValidationResult<PipelineConfig> {
  return validatePipelineWith(validators().pipeline, value, extra);
}

/**
 * validatePipeline with a given compiled schema: a page under a strict Content-Security-Policy cannot
 * compile (ajv generates code with `new Function`), so the console passes the build-time compiled one
 * (pipeline-validator.generated.ts).
 */
export function validatePipelineWith(validate: ValidateFunction, value: unknown, extra?: ExtraChecks<PipelineConfig>): ValidationResult<PipelineConfig> {
  // A local option in a policy would be "not a known option"; say why it is not one.
  const local =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.keys(value).filter((key) => LOCAL_CONFIG_KEYS.includes(key))
      : [];
  const localProblems = local.map((key) => ({ path: key, reason: "is a local setting of the agent (its YAML), never part of a policy's pipeline" }));
  return run<PipelineConfig>(validate, value, localProblems, (pipeline) => [...sourceProblems(pipeline.sources), ...(extra?.(pipeline) ?? [])]);
}

function run<T>(validate: ValidateFunction, value: unknown, known: ConfigProblem[], semantic: (value: T) => ConfigProblem[]): ValidationResult<T> {
  // A config is JSON data (parsed YAML or a request body), so a JSON round trip is an exact copy.
  const copy: unknown = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  if (!validate(copy)) {
    const schemaProblems = (validate.errors ?? []).flatMap(formatAjvError);
    // The local-option problem replaces ajv's generic line for the same path.
    const explained = new Set(known.map((p) => p.path));
    return { ok: false, problems: dedupe([...known, ...schemaProblems.filter((p) => !explained.has(p.path))]) };
  }
  const typed = copy as T;
  const problems = bySource(semantic(typed));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: typed };
}

function sourceProblems(sources: readonly { id: string; type: string; multiline?: { startPattern: string } }[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const ids = new Map<string, number>();
  sources.forEach((source, i) => {
    const previous = ids.get(source.id);
    if (previous !== undefined) problems.push({ path: formatPath(['sources', i, 'id']), reason: `duplicates sources[${previous}].id "${source.id}"` });
    else ids.set(source.id, i);
    if (source.type === 'file' && source.multiline) {
      try {
        new RegExp(source.multiline.startPattern);
      } catch (error) {
        problems.push({ path: formatPath(['sources', i, 'multiline', 'startPattern']), reason: `is not a valid regular expression: ${(error as Error).message}` });
      }
    }
  });
  return problems;
}

/** Problems in the order of the config: settings first, then source by source (stable within one source). */
function bySource(problems: ConfigProblem[]): ConfigProblem[] {
  const index = (p: ConfigProblem): number => {
    const match = /^sources\[(\d+)\]/.exec(p.path);
    return match ? Number(match[1]) : -1;
  };
  return problems.map((p, i) => ({ p, i })).sort((a, b) => index(a.p) - index(b.p) || a.i - b.i).map(({ p }) => p);
}

/** `sources[2].include[0]` from ['sources', 2, 'include', 0]. */
export function formatPath(at: readonly (string | number)[]): string {
  if (at.length === 0) return '(root)';
  return at.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** One `path: reason` line per problem. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.reason}`).join('\n');
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function formatAjvError(error: ErrorObject): ConfigProblem[] {
  const at = pointerToPath(error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      return [{ path: formatPath([...at, extra]), reason: 'is not a known option' }];
    }
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return [{ path: formatPath([...at, missing]), reason: 'is required' }];
    }
    case 'enum':
      return [{ path: formatPath(at), reason: `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` }];
    case 'discriminator': {
      const tag = (error.params as { tag: string }).tag;
      return [{ path: formatPath([...at, tag]), reason: `must be one of ${tagValues(error.parentSchema, tag).map((v) => JSON.stringify(v)).join(', ')}` }];
    }
    case 'pattern':
      return [{ path: formatPath(at), reason: `must match ${(error.params as { pattern: string }).pattern}` }];
    default:
      return [{ path: formatPath(at), reason: error.message ?? error.keyword }];
  }
}

/** The values a discriminated `oneOf` accepts for its tag: each branch's `const` or `enum`. */
function tagValues(schema: unknown, tag: string): unknown[] {
  const branches = (schema as { oneOf?: { properties?: Record<string, { const?: unknown; enum?: unknown[] }> }[] } | undefined)?.oneOf ?? [];
  return branches.flatMap((branch) => {
    const property = branch.properties?.[tag];
    return property?.const !== undefined ? [property.const] : (property?.enum ?? []);
  });
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
