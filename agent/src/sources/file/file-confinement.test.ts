// Issue 8, item 7: the file source reads only what resolves inside allowedRoots, at run time. Links leading
// outside are refused (listed in status with their target) and never read; links inside keep working.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { FileSourceHarness, lines } from '../../../test/support/file-source-harness.ts';
import type { Refusal } from './file-confinement.ts';

const running: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of running.splice(0)) await stop();
});

const refused = (h: FileSourceHarness): Refusal[] => ((h.source!.status().details as { refused?: Refusal[] }).refused ?? []);

describe('FileSource confinement to allowedRoots', () => {
  it('refuses links to files and folders outside the roots, at start and later, and follows links inside', async () => {
    const h = new FileSourceHarness(running);
    const outside = path.join(h.dir, 'outside');
    mkdirSync(path.join(outside, 'dir'), { recursive: true });
    writeFileSync(path.join(outside, 'secret.log'), lines(0, 5, 'secret'));
    writeFileSync(path.join(outside, 'dir', 'x.log'), lines(0, 5, 'secret-dir'));
    mkdirSync(path.join(h.logs, 'sub'));
    writeFileSync(path.join(h.logs, 'app.log'), lines(0, 3, 'app'));
    writeFileSync(path.join(h.logs, 'sub', 'real.log'), lines(0, 2, 'real'));
    symlinkSync(path.join(outside, 'secret.log'), path.join(h.logs, 'host.log'));
    symlinkSync(path.join(outside, 'dir'), path.join(h.logs, 'elsewhere'));
    symlinkSync(path.join(h.logs, 'sub', 'real.log'), path.join(h.logs, 'alias.log')); // inside: followed
    await h.start({ include: [path.join(h.logs, '**', '*')] });
    await h.waitFor(5);
    symlinkSync(path.join(outside, 'secret.log'), path.join(h.logs, 'late.log')); // made while running
    writeFileSync(path.join(h.logs, 'later.log'), lines(0, 1, 'later'));
    await h.waitFor(6);
    await waitFor(() => refused(h).some((r) => path.basename(r.path) === 'late.log'), 10_000, 'late.log refused');
    expect(h.texts().sort()).toEqual(['app 0', 'app 1', 'app 2', 'later 0', 'real 0', 'real 1']);
    expect(refused(h).map((r) => [path.basename(r.path), r.target]).sort()).toEqual([
      ['elsewhere', path.join(outside, 'dir')],
      ['host.log', path.join(outside, 'secret.log')],
      ['late.log', path.join(outside, 'secret.log')],
    ]);
    expect(refused(h)[0]!.reason).toMatch(/outside allowedRoots/);
  });

  it('reads links to a file and a folder in another allowed root', async () => {
    const h = new FileSourceHarness(running);
    const other = path.join(h.dir, 'other-root');
    mkdirSync(path.join(other, 'dir'), { recursive: true });
    writeFileSync(path.join(other, 'shared.log'), lines(0, 2, 'shared'));
    writeFileSync(path.join(other, 'dir', 'deep.log'), lines(0, 1, 'deep'));
    symlinkSync(path.join(other, 'shared.log'), path.join(h.logs, 'shared.log'));
    symlinkSync(path.join(other, 'dir'), path.join(h.logs, 'linked'));
    await h.start({ include: [path.join(h.logs, '**', '*.log')] }, [h.logs, other]);
    await h.waitFor(3);
    expect(h.texts().sort()).toEqual(['deep 0', 'shared 0', 'shared 1']);
    expect(refused(h)).toEqual([]);
  });
});
