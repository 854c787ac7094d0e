import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { DropSource } from '../../src/sources/drop/drop-source.ts';
import { MemoryContext, type MemoryContextOptions } from './memory-context.ts';
import { dropConfig, type DropSourceInput } from './source-config.ts';

export interface DropFolder {
  /** This test's drop folder (new for each test). */
  readonly dir: string;
  /** Starts a drop source `drop1` for dataset `orders` on the folder; stopped after the test. */
  start(config?: Partial<DropSourceInput>, options?: MemoryContextOptions): Promise<{ source: DropSource; ctx: MemoryContext }>;
}

/** A fresh drop folder per test and the sources started on it, stopped and removed after each test. Call at module level. */
export function useDropFolder(prefix = 'sluice-drop-'): DropFolder {
  let dir = '';
  let running: Array<{ source: DropSource; ctx: MemoryContext }> = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const { source, ctx } of running) {
      ctx.controller.abort();
      await source.stop();
    }
    running = [];
    await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    async start(config = {}, options = {}) {
      const source = new DropSource(dropConfig({ type: 'drop', id: 'drop1', dataset: 'orders', path: dir, completion: { stableMs: 100 }, ...config }));
      const ctx = new MemoryContext({ sourceId: 'drop1', ...options });
      await source.start(ctx);
      running.push({ source, ctx });
      return { source, ctx };
    },
  };
}
