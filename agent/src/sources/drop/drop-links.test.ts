// Issue 8, item 8: a hard link in the drop folder to a file elsewhere is not taken unless the source allows
// hard links; the file it shares its content with is left untouched either way.
import { existsSync, linkSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DropSourceInput } from '../../../test/support/source-config.ts';
import type { MemoryContext } from '../../../test/support/memory-context.ts';
import { useDropFolder } from '../../../test/support/drop-folder.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const folder = useDropFolder('sluice-drop-links-');
let outside: string;

beforeEach(async () => {
  outside = await mkdtemp(join(tmpdir(), 'sluice-outside-'));
  await writeFile(join(outside, 'secret.csv'), 'a\n1\n');
  linkSync(join(outside, 'secret.csv'), join(folder.dir, 'linked.csv'));
});
afterEach(async () => {
  await rm(outside, { recursive: true, force: true });
});

async function startDrop(config: Partial<DropSourceInput> = {}): Promise<MemoryContext> {
  return (await folder.start(config)).ctx;
}

describe('drop source: hard links', () => {
  it('moves a hard-linked file to failed/ with the reason and ships nothing, by default', async () => {
    await writeFile(join(folder.dir, 'plain.csv'), 'a\n2\n');
    const ctx = await startDrop();
    await waitFor(async () => (await readdir(join(folder.dir, 'failed'))).includes('linked.csv.error.json'), 15_000, 'linked.csv refused');
    await waitFor(async () => (await readdir(join(folder.dir, 'done'))).includes('plain.csv'), 15_000, 'plain.csv done');
    const error = JSON.parse(await readFile(join(folder.dir, 'failed', 'linked.csv.error.json'), 'utf8')) as { reason: string; links: number };
    expect(error.reason).toMatch(/2 hard links.*allowHardLinks/);
    expect(error.links).toBe(2);
    expect(ctx.envelopes().map((r) => r.payload)).toEqual([{ a: '2' }]);
    expect(await readFile(join(outside, 'secret.csv'), 'utf8')).toBe('a\n1\n');
  });

  it('takes a hard-linked file when allowHardLinks is set', async () => {
    const ctx = await startDrop({ allowHardLinks: true });
    await waitFor(async () => (await readdir(join(folder.dir, 'done'))).includes('linked.csv'), 15_000, 'linked.csv done');
    expect(ctx.envelopes().map((r) => r.payload)).toEqual([{ a: '1' }]);
    expect(existsSync(join(folder.dir, 'failed', 'linked.csv.error.json'))).toBe(false);
    expect(statSync(join(outside, 'secret.csv')).nlink).toBe(2); // moved within the folder, the other name untouched
  });
});
