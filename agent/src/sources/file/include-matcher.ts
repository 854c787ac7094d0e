/**
 * What a file source's `include` / `exclude` patterns select, shared by the source and by
 * `sluice-agent validate` so both judge the same paths.
 */
import path from 'node:path';
import picomatch from 'picomatch';
import type { FileSourceConfig } from '@sluice/shared/agent-config/file';

export interface IncludeMatcher {
  /** The include patterns as absolute globs. */
  include: string[];
  matches: (file: string) => boolean;
  /** The folders to watch: each pattern's static part. */
  bases: string[];
  /** Whether any pattern reaches below its base folder. */
  deep: boolean;
}

export function includeMatcher(config: Pick<FileSourceConfig, 'include' | 'exclude'>, baseDir: string): IncludeMatcher {
  const include = config.include.map((g) => path.resolve(baseDir, g));
  const exclude = (config.exclude ?? []).map((g) => path.resolve(baseDir, g));
  const isIncluded = picomatch(include, { dot: true });
  const isExcluded = exclude.length > 0 ? picomatch(exclude, { dot: true }) : () => false;
  return {
    include,
    matches: (file) => isIncluded(file) && !isExcluded(file),
    bases: [...new Set(include.map(globBase))],
    deep: include.some((g) => picomatch.scan(g).glob.includes('/') || picomatch.scan(g).glob.includes('**')),
  };
}

export function globBase(glob: string): string {
  return picomatch.scan(glob).base || '/';
}
