/**
 * `sluice-agent validate` looks at what the file sources' include patterns match right now and reports
 * every symbolic link among them that leads outside allowedRoots (a link to /etc/hostname in a log folder
 * included with `**` would otherwise look fine). A running agent refuses the same links when it meets them;
 * this only tells the operator beforehand. Links whose target is inside the roots are fine.
 */
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { AgentConfig } from '@sluice/shared/agent-config/index';
import { globBase, includeMatcher } from '../sources/file/include-matcher.ts';
import { AllowedRoots, isInside } from './allowed-roots.ts';
import { formatPath, type ConfigProblem } from './load-config.ts';

/** Folder entries looked at per source at most, so validate stays quick on a huge tree. */
const MAX_ENTRIES = 200_000;

export function includeLinkProblems(config: AgentConfig, baseDir: string): ConfigProblem[] {
  const roots = new AllowedRoots(config.allowedRoots, baseDir);
  const problems: ConfigProblem[] = [];
  config.sources.forEach((source, i) => {
    if (source.type !== 'file') return;
    const matcher = includeMatcher(source, baseDir);
    const patterns = matcher.include.map((g) => picomatch(g, { dot: true }));
    const report = (j: number, link: string, target: string): void => {
      problems.push({ path: formatPath(['sources', i, 'include', j]), reason: `${link} is a symbolic link to ${target}, outside allowedRoots: the agent will not read it` });
    };
    // Breadth first, by name: the shortest way to a link is the one reported.
    const queue = [...new Set(matcher.include.map(globBase))];
    const visited = new Set<string>();
    let budget = MAX_ENTRIES;
    for (let q = 0; q < queue.length && budget > 0; q++) {
      const dir = queue[q]!;
      let entries: Dirent[];
      try {
        // A folder reached twice (through a link inside the roots) is looked at once.
        const real = realpathSync(dir);
        if (visited.has(real)) continue;
        visited.add(real);
        entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
      } catch {
        continue; // missing or unreadable: the agent reports that itself when it runs
      }
      for (const entry of entries) {
        if (--budget < 0) break;
        const full = path.join(dir, entry.name);
        if (!entry.isSymbolicLink()) {
          if (entry.isDirectory() && matcher.deep) queue.push(full);
          continue;
        }
        let target: string;
        let isDir: boolean;
        try {
          target = realpathSync(full);
          isDir = statSync(full).isDirectory();
        } catch {
          continue; // a dangling link is never read
        }
        if (roots.containsReal(target)) {
          if (isDir && matcher.deep) queue.push(full);
        } else if (isDir) {
          // A folder the source would descend into: reported under the first pattern that reaches below it.
          const j = matcher.include.findIndex((g) => isInside(full, globBase(g)) && full !== globBase(g));
          if (matcher.deep && j >= 0) report(j, full, target);
        } else if (matcher.matches(full)) {
          report(Math.max(0, patterns.findIndex((matches) => matches(full))), full, target);
        }
      }
    }
  });
  return problems;
}
