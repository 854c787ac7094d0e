/**
 * The editor's verdict on its text, as the user types: JSON syntax, then the agent config schema (the same
 * validator the agent and control plane use, with its defaults), each problem placed at its line. A valid
 * text also says which options it leaves to their defaults, and their values.
 */
import { diffConfigs } from '@sluice/shared/fleet/diff';
import { validatePipelinePrecompiled } from '@sluice/shared/agent-config/precompiled-pipeline-validator';
import type { ConfigProblem } from '@sluice/shared/agent-config/validate';
import type { PipelineConfig } from '@sluice/shared/agent-config/pipeline';
import { jsonSyntaxErrorAt, locateJsonPaths, locationOf, type TextLocation } from './json-locations.ts';

export interface PlacedProblem extends ConfigProblem {
  at: TextLocation | undefined;
}

/** An option the text leaves out and the schema fills in: `sources[id=app].pollIntervalMs` = 250. */
export interface DefaultedOption {
  path: string;
  value: unknown;
}

export type ConfigCheck =
  | { ok: true; config: object; effective: PipelineConfig; defaults: DefaultedOption[] }
  | { ok: false; config: object | undefined; problems: PlacedProblem[] };

export function checkConfigText(text: string): ConfigCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, config: undefined, problems: [{ path: '(root)', reason: `is not valid JSON: ${(error as Error).message}`, at: jsonSyntaxErrorAt(text) }] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, config: undefined, problems: [{ path: '(root)', reason: 'must be an object: { "sources": [...] }', at: { line: 1, column: 1 } }] };
  }
  const result = validatePipelinePrecompiled(parsed);
  if (result.ok) return { ok: true, config: parsed, effective: result.value, defaults: defaultsOf(parsed, result.value) };
  return { ok: false, config: parsed, problems: placeProblems(text, result.problems) };
}

/** Server problems (POST …/validate) placed the same way as the browser's own. */
export function placeProblems(text: string, problems: readonly ConfigProblem[]): PlacedProblem[] {
  const locations = locateJsonPaths(text);
  return problems.map((p) => ({ ...p, at: locationOf(locations, p.path) }));
}

function defaultsOf(typed: object, effective: PipelineConfig): DefaultedOption[] {
  return diffConfigs(typed, effective).flatMap((change) => (change.op === 'added' ? [{ path: change.path, value: change.after }] : []));
}
