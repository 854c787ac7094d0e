import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKED_DIRS, importCircles, importGraph } from '../import-circles.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

let fixtures: string[] = [];
afterEach(() => {
  for (const dir of fixtures) rmSync(dir, { recursive: true, force: true });
  fixtures = [];
});

/** A throwaway tree with the given files. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'import-circles-'));
  fixtures.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('import circles', () => {
  it('agent, control-plane and shared have none (type-only imports included)', () => {
    expect(importCircles(importGraph(root, CHECKED_DIRS)).map((c) => c.join(' → '))).toEqual([]);
  });

  it('finds a circle made of type-only imports and re-exports, and names the files along it', () => {
    const dir = tree({
      'control-plane/src/a.ts': "import type { B } from './b.ts';\nexport interface A { b: B }\n",
      'control-plane/src/b.ts': "export type { C as B } from './sub/c.ts';\n",
      'control-plane/src/sub/c.ts': "import { type A } from '../a.ts';\nexport interface C { a?: A }\n",
      'control-plane/src/ok.ts': "import type { A } from './a.ts';\nimport pg from 'pg';\nexport const x: A | undefined = undefined; void pg;\n",
    });
    expect(importCircles(importGraph(dir, ['control-plane']))).toEqual([['control-plane/src/a.ts', 'control-plane/src/b.ts', 'control-plane/src/sub/c.ts', 'control-plane/src/a.ts']]);
  });

  it('follows the workspace package names, and ignores imports in comments and strings', () => {
    const dir = tree({
      'shared/src/x.ts': "import { y } from '@sluice/control-plane/y';\nexport const x = y;\n",
      'control-plane/src/y.ts': "// import { x } from '@sluice/shared/x';\nexport const y = \"import { x } from '@sluice/shared/x'\";\n",
      'shared/node/p.ts': "import { q } from '@sluice/agent/q';\nexport const p = q;\n",
      'agent/src/q.ts': "import type { p } from '@sluice/shared/node/p';\nexport const q = 1 as unknown as typeof p;\n",
    });
    expect(importCircles(importGraph(dir, ['agent', 'control-plane', 'shared']))).toEqual([['agent/src/q.ts', 'shared/node/p.ts', 'agent/src/q.ts']]);
  });
});
