/**
 * The folders file and drop sources may read (`allowedRoots`), compared by real path: a symbolic link is
 * judged by where it leads, not by where it sits. The config loader checks the configured folders with it,
 * `sluice-agent validate` what the include patterns match now (include-links.ts), and the file source
 * every file before it opens it.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';

export class AllowedRoots {
  /** Real paths of the roots. */
  readonly real: readonly string[];

  constructor(roots: readonly string[], baseDir: string) {
    this.real = roots.map((r) => realpathLoose(path.resolve(baseDir, r)));
  }

  /** Whether a real path (symbolic links already resolved) is inside one of the roots. */
  containsReal(real: string): boolean {
    return this.real.some((root) => isInside(real, root));
  }

  /** Whether `target` is inside a root once the symbolic links of its existing part are resolved. */
  contains(target: string): boolean {
    return this.containsReal(realpathLoose(target));
  }
}

/** realpath of the longest existing prefix, so a folder that does not exist yet can still be checked. */
export function realpathLoose(target: string): string {
  let current = path.resolve(target);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(current), ...rest);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return path.join(current, ...rest);
      rest.unshift(path.basename(current));
      current = parent;
    }
  }
}

/** `child` is `root` or below it. */
export function isInside(child: string, root: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
