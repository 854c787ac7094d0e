/**
 * Loads the agent's YAML config: parse → `${env:NAME}` substitution (in string values only, after parsing, so
 * a variable can never inject YAML) → JSON Schema validation with defaults (ajv, schema in shared/) →
 * semantic checks the schema cannot express (allowed roots after realpath, unique ids, regexes).
 * Every problem is reported as `path: reason`, one per line, all at once.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { parseDocument } from 'yaml';
import { agentConfigSchema, type AgentConfig } from '@sluice/shared/agent-config/index';
import { SluiceError } from '@sluice/shared/errors';
import { isLoopbackHost, parseListen } from '../http/listen-address.ts';
import { AllowedRoots } from './allowed-roots.ts';

export interface ConfigProblem {
  path: string;
  reason: string;
}

/** A config that cannot be used; `message` holds one `path: reason` line per problem. */
export class ConfigError extends SluiceError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super('InputError', problems.map((p) => `${p.path}: ${p.reason}`).join('\n'), problems);
    this.problems = problems;
  }
}

export interface LoadedConfig {
  config: AgentConfig;
  /** The config file's folder: relative paths in the config resolve against it. */
  baseDir: string;
  file: string;
}

// The sources read their options' defaults from the validated config (no fallbacks in code), so strict mode
// throws on a default ajv would ignore (one inside a oneOf without a discriminator). `verbose` gives a
// discriminator error its schema, from which it names the valid values.
const ajv = new Ajv({ strict: true, allErrors: true, useDefaults: true, discriminator: true, verbose: true });
const validate = ajv.compile(agentConfigSchema);

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: file, reason: `cannot read: ${(error as Error).message}` }]);
  }
  const baseDir = path.dirname(path.resolve(file));
  return { config: parseConfig(text, baseDir, env), baseDir, file: path.resolve(file) };
}

export function parseConfig(text: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ path: `line ${e.linePos?.[0].line ?? '?'}`, reason: e.message.split('\n')[0] ?? e.code })));
  }
  const raw: unknown = doc.toJS();
  const problems: ConfigProblem[] = [];
  const substituted = substituteEnv(raw, [], env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  if (!validate(substituted)) {
    throw new ConfigError(dedupe((validate.errors ?? []).flatMap(formatAjvError)));
  }
  const config = substituted as AgentConfig;
  problems.push(...semanticProblems(config, baseDir));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

function substituteEnv(value: unknown, at: (string | number)[], env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_match, name: string) => {
      const found = env[name];
      if (found === undefined) {
        problems.push({ path: formatPath(at), reason: `environment variable ${name} is not set` });
        return '';
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, [...at, i], env, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, [...at, k], env, problems)]));
  }
  return value;
}

/** `sources[2].include[0]` from ['sources', 2, 'include', 0]. */
export function formatPath(at: readonly (string | number)[]): string {
  if (at.length === 0) return '(root)';
  return at.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
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
      return [{ path: formatPath(at), reason: `must be one of ${((error.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}` }];
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

function semanticProblems(config: AgentConfig, baseDir: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // Without a token /metrics, /healthz and /status are open: acceptable on loopback only.
  if (config.http.token === undefined && !isLoopbackHost(parseListen(config.http.listen).host)) {
    problems.push({
      path: 'http.token',
      reason: `is required because http.listen (${config.http.listen}) is not a loopback address (127.0.0.1 or ::1); e.g. token: \${env:SLUICE_AGENT_TOKEN}`,
    });
  }
  const roots = new AllowedRoots(config.allowedRoots, baseDir);
  const checkAllowed = (at: (string | number)[], folder: string): void => {
    if (!roots.contains(path.resolve(baseDir, folder))) {
      problems.push({ path: formatPath(at), reason: 'must be inside an allowed folder (allowedRoots)' });
    }
  };
  const ids = new Map<string, number>();
  config.sources.forEach((source, i) => {
    const previous = ids.get(source.id);
    if (previous !== undefined) problems.push({ path: formatPath(['sources', i, 'id']), reason: `duplicates sources[${previous}].id "${source.id}"` });
    else ids.set(source.id, i);
    if (source.type === 'file') {
      source.include.forEach((glob, j) => checkAllowed(['sources', i, 'include', j], picomatch.scan(path.resolve(baseDir, glob)).base));
      if (source.multiline) {
        try {
          new RegExp(source.multiline.startPattern);
        } catch (error) {
          problems.push({ path: formatPath(['sources', i, 'multiline', 'startPattern']), reason: `is not a valid regular expression: ${(error as Error).message}` });
        }
      }
    }
    // Any source option naming a folder (drop `path`, `doneDir`, `failedDir`) must be inside the roots too.
    for (const key of ['path', 'doneDir', 'failedDir'] as const) {
      const value = (source as Record<string, unknown>)[key];
      if (typeof value === 'string') checkAllowed(['sources', i, key], value);
    }
  });
  return problems;
}
