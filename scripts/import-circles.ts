/**
 * Finds import circles among the TypeScript files of the workspaces. A circle is a design smell even when
 * it only carries types: the two files are one idea split in two, and neither can be understood, tested or
 * moved without the other. Type-only imports count for that reason.
 *
 * Run `node scripts/import-circles.ts` to print them (exit code 1 when there is one); the unit test
 * scripts/test/import-circles.test.ts keeps the tree free of them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Workspace package name → folder its `exports` map `./*` into (the packages' package.json). */
const PACKAGE_ROOTS: ReadonlyArray<{ prefix: string; dir: string }> = [
  { prefix: '@sluice/shared/node/', dir: 'shared/node' },
  { prefix: '@sluice/shared/', dir: 'shared/src' },
  { prefix: '@sluice/agent/', dir: 'agent/src' },
  { prefix: '@sluice/control-plane/', dir: 'control-plane/src' },
];

const SKIPPED_DIRS = new Set(['node_modules', '.tsbuild', 'dist', 'out', '.stack']);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIPPED_DIRS.has(name)) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** The file a specifier names inside the tree, or undefined for a package outside it. */
function resolve(root: string, from: string, specifier: string): string | undefined {
  let target: string | undefined;
  if (specifier.startsWith('.')) target = path.resolve(path.dirname(from), specifier);
  else {
    const pkg = PACKAGE_ROOTS.find((p) => specifier.startsWith(p.prefix));
    if (pkg) target = path.join(root, pkg.dir, `${specifier.slice(pkg.prefix.length)}.ts`);
  }
  if (target === undefined) return undefined;
  for (const candidate of [target, `${target}.ts`, `${target}.tsx`, path.join(target, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Every file's imports (static, type-only, re-exports and dynamic), as paths relative to `root`. */
export function importGraph(root: string, dirs: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of sourceFiles(path.join(root, dir))) {
      const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      const targets = importedFiles.map((f) => resolve(root, file, f.fileName)).filter((t): t is string => t !== undefined);
      graph.set(path.relative(root, file), [...new Set(targets.map((t) => path.relative(root, t)))]);
    }
  }
  return graph;
}

/**
 * Each circle once, as the files along it (the first repeated at the end), found by Tarjan's strongly
 * connected components: any component of more than one file, or a file importing itself, holds a circle.
 */
export function importCircles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const to of graph.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(file, Math.min(low.get(file)!, index.get(to)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) components.push(component);
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return components.map((component) => circleThrough(graph, new Set(component)));
}

/** One concrete circle inside a component, starting from its first file in sort order, for the message. */
function circleThrough(graph: ReadonlyMap<string, readonly string[]>, component: ReadonlySet<string>): string[] {
  const start = [...component].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const to of graph.get(file) ?? []) {
      if (!component.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let at: string | undefined = file; at !== start && at !== undefined; at = previous.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, file);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

export const CHECKED_DIRS = ['agent', 'control-plane', 'shared'] as const;

if (import.meta.main) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const circles = importCircles(importGraph(root, CHECKED_DIRS));
  for (const circle of circles) console.log(circle.join(' → '));
  process.exitCode = circles.length > 0 ? 1 : 0;
}
