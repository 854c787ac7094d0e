/**
 * The checks of a policy revision beyond its schema, at publish time: every dataset a source ships to is
 * registered (a record of an unknown dataset can only end in the DLQ), and every folder a source reads is
 * inside the allowedRoots each selected agent reported. The control plane cannot resolve symbolic links on
 * the agent's disk, so the folder check is lexical; the agent checks again after realpath when it applies
 * the revision (and reports `failed` if a link leads out).
 */
import path from 'node:path';
import type { ConfigProblem } from '@sluice/shared/agent-config/validate';
import { formatPath } from '@sluice/shared/agent-config/validate';
import type { PipelineConfig } from '@sluice/shared/agent-config/index';

export interface SelectedAgent {
  id: string;
  /** As the agent reported them (resolved); null when it never checked in (then unknown, not checked). */
  allowedRoots: readonly string[] | null;
}

const GLOB_CHARS = /[*?[\]{}()!+@]/;

/** The folder a glob can match under: its leading segments without glob characters. */
export function globBase(pattern: string): string {
  const segments = pattern.split('/');
  const literal: string[] = [];
  for (const segment of segments) {
    if (GLOB_CHARS.test(segment)) break;
    literal.push(segment);
  }
  // A pattern without glob characters names a file: its folder is what must be allowed.
  if (literal.length === segments.length) literal.pop();
  return literal.join('/') || '/';
}

export function insideRoot(folder: string, root: string): boolean {
  const f = path.posix.normalize(folder).replace(/\/+$/, '') || '/';
  const r = path.posix.normalize(root).replace(/\/+$/, '') || '/';
  return r === '/' || f === r || f.startsWith(`${r}/`);
}

/** The folders a pipeline reads, each with its path in the config. */
export function foldersOf(pipeline: PipelineConfig): Array<{ at: string; folder: string; raw: string }> {
  const out: Array<{ at: string; folder: string; raw: string }> = [];
  pipeline.sources.forEach((source, i) => {
    if (source.type === 'file') source.include.forEach((glob, j) => out.push({ at: formatPath(['sources', i, 'include', j]), folder: globBase(glob), raw: glob }));
    for (const key of ['path', 'doneDir', 'failedDir'] as const) {
      const value = (source as Record<string, unknown>)[key];
      if (typeof value === 'string') out.push({ at: formatPath(['sources', i, key]), folder: value, raw: value });
    }
  });
  return out;
}

export function referenceProblems(pipeline: PipelineConfig, datasets: ReadonlySet<string>, agents: readonly SelectedAgent[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  pipeline.sources.forEach((source, i) => {
    if (!datasets.has(source.dataset)) problems.push({ path: formatPath(['sources', i, 'dataset']), reason: `dataset ${source.dataset} is not registered (POST /api/v1/datasets first)` });
  });
  const known = agents.filter((a): a is SelectedAgent & { allowedRoots: readonly string[] } => a.allowedRoots !== null);
  for (const { at, folder, raw } of foldersOf(pipeline)) {
    // A policy runs on many machines: a relative path would depend on where each agent's YAML lives.
    if (!path.posix.isAbsolute(raw)) {
      problems.push({ path: at, reason: `must be an absolute path in a policy (${raw})` });
      continue;
    }
    const outside = known.filter((agent) => !agent.allowedRoots.some((root) => insideRoot(folder, root)));
    if (outside.length > 0) {
      const named = outside.slice(0, 5).map((a) => `${a.id} (${a.allowedRoots.length > 0 ? a.allowedRoots.join(', ') : 'none'})`);
      problems.push({ path: at, reason: `${folder} is outside the allowedRoots of agent ${named.join(', ')}${outside.length > 5 ? ` and ${outside.length - 5} more` : ''}` });
    }
  }
  return problems;
}
