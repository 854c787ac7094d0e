/**
 * Loads the agent's YAML config: parse → `${env:NAME}` substitution (in string values only, after parsing, so
 * a variable can never inject YAML) → JSON Schema validation with defaults (ajv, schema in shared/) →
 * semantic checks the schema cannot express (the shared validator: unique ids, regexes; here: allowed roots
 * after realpath, the listen address). Every problem is reported as `path: reason`, one per line, all at once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { parseDocument } from 'yaml';
import type { AgentConfig } from '@sluice/shared/agent-config/index';
import { formatPath, formatProblems, validateAgentConfig, type ConfigProblem } from '@sluice/shared/agent-config/validate';
import { SluiceError } from '@sluice/shared/errors';
import { isLoopbackHost, parseListen } from '../http/listen-address.ts';
import { AllowedRoots } from './allowed-roots.ts';

// Re-exported: the agent's modules name config paths the way the validator does.
export { formatPath, type ConfigProblem };

/** A config that cannot be used; `message` holds one `path: reason` line per problem. */
export class ConfigError extends SluiceError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super('InputError', formatProblems(problems), problems);
    this.problems = problems;
  }
}

export interface LoadedConfig {
  config: AgentConfig;
  /** The config file's folder: relative paths in the config resolve against it. */
  baseDir: string;
  file: string;
}

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
  const result = validateAgentConfig(substituted, (config) => localProblems(config, baseDir));
  if (!result.ok) throw new ConfigError(result.problems);
  return result.value;
}

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** `${env:NAME}` replaced in the string values of `value` (a parsed config); unset variables become problems. */
export function substituteEnv(value: unknown, at: (string | number)[], env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
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

// What only the agent can check: folders resolve on its own disk, the listen address is its own. Also run on
// every pipeline the control plane pushes (control/pipeline-config.ts).
export function localProblems(config: AgentConfig, baseDir: string): ConfigProblem[] {
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
  config.sources.forEach((source, i) => {
    if (source.type === 'file') {
      source.include.forEach((glob, j) => checkAllowed(['sources', i, 'include', j], picomatch.scan(path.resolve(baseDir, glob)).base));
    }
    // Any source option naming a folder (drop `path`, `doneDir`, `failedDir`) must be inside the roots too.
    for (const key of ['path', 'doneDir', 'failedDir'] as const) {
      const value = (source as Record<string, unknown>)[key];
      if (typeof value === 'string') checkAllowed(['sources', i, key], value);
    }
  });
  return problems;
}
