// Issue 8, item 5: a file's identity survives restarts. A copy whose head matches a known identity continues
// it (same record ids), in whatever order and across whatever restarts the copy and the truncated original
// are seen; the truncated original starts a new generation.
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import type { Envelope } from '@sluice/shared/envelope';
import { FileSourceHarness, lines } from '../../../test/support/file-source-harness.ts';
import type { Checkpoint } from '../source.ts';
import { FileIdentities, type FileCheckpoint } from './file-identity.ts';

const running: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of running.splice(0)) await stop();
});

/** Every line text with the ids it was committed under. */
function idsByText(records: Envelope[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const r of records) {
    const text = (r.payload as { message: string }).message;
    out.set(text, (out.get(text) ?? new Set()).add(r.id));
  }
  return out;
}

/** Each expected text committed under exactly one id, no other text, and no id twice. */
function expectExactlyOnce(records: Envelope[], expected: string[]): void {
  const byText = idsByText(records);
  expect([...byText.keys()].sort()).toEqual([...expected].sort());
  expect([...byText.entries()].filter(([, ids]) => ids.size !== 1)).toEqual([]);
  expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
}

const texts = (from: number, to: number, prefix = 'line'): string[] => Array.from({ length: to - from }, (_, i) => `${prefix} ${from + i}`);

describe('FileIdentities', () => {
  const apply = (store: Map<string, string>, checkpoints: Checkpoint[]): void => {
    for (const c of checkpoints) {
      if (c.value === null) store.delete(c.key);
      else store.set(c.key, c.value);
    }
  };
  const identify = async (ids: FileIdentities, file: string, store: Map<string, string>): Promise<FileCheckpoint> => {
    const fh = await open(file, 'r');
    try {
      const { cp, checkpoints } = await ids.identify(fh, await fh.stat(), file, () => Promise.resolve(0));
      apply(store, checkpoints);
      return cp;
    } finally {
      await fh.close();
    }
  };

  for (const order of [['original', 'copy'], ['copy', 'original']] as const) {
    it(`recognises a copytruncate made while stopped, seeing the ${order[0]} first`, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sluice-identity-'));
      const original = path.join(dir, 'app.log');
      const copy = `${original}.1`;
      writeFileSync(original, lines(0, 40));
      const store = new Map<string, string>();
      const first = await identify(new FileIdentities('logs', 64, store), original, store);
      apply(store, [new FileIdentities('logs', 64, store).record({ ...first, offset: statSync(original).size })]);
      copyFileSync(original, copy);
      truncateSync(original, 0);
      writeFileSync(original, lines(0, 3, 'after'));
      const restarted = new FileIdentities('logs', 64, store);
      const seen: Record<string, FileCheckpoint> = {};
      for (const which of order) seen[which] = await identify(restarted, which === 'copy' ? copy : original, store);
      expect(seen.copy).toMatchObject({ uid: first.uid, offset: statSync(copy).size });
      expect(seen.original!.uid).not.toBe(first.uid);
      expect(seen.original).toMatchObject({ offset: 0, gen: first.gen + 1 });
    });
  }
});

describe('FileIdentities retired records', () => {
  it('keeps the newest 64 retired identities and deletes the stored record of each one it drops', () => {
    const store = new Map<string, string>();
    const ids = new FileIdentities('logs', 64, store);
    for (let i = 0; i < 70; i++) {
      const cp: FileCheckpoint = { uid: `u${i}`, dev: 1, ino: i, gen: 0, headLen: 64, headHash: `h${i}`, offset: 10, skipping: false, path: `/x/${i}` };
      for (const c of ids.retire(cp)) {
        if (c.value === null) store.delete(c.key);
        else store.set(c.key, c.value);
      }
    }
    expect([...store.keys()].filter((k) => k.startsWith('retired:'))).toHaveLength(64);
    expect(store.has('retired:u5')).toBe(false);
    expect(store.has('retired:u6')).toBe(true);
    expect(new FileIdentities('logs', 64, store).empty).toBe(false);
  });
});

describe('FileSource identity across restarts', () => {
  it('does not read again a copytruncate copy it saw while running, after a restart', async () => {
    const h = new FileSourceHarness(running);
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 40));
    await h.start();
    await h.waitFor(40);
    copyFileSync(file, `${file}.1`); // nothing new in the copy: it has no record to commit
    truncateSync(file, 0);
    appendFileSync(file, lines(0, 5, 'after'));
    await h.waitFor(45);
    await waitFor(() => h.tracks('app.log.1'), 10_000, 'the copy seen while running');
    await h.stop();
    await h.start();
    appendFileSync(file, lines(5, 7, 'after'));
    expectExactlyOnce(await h.waitFor(47), [...texts(0, 40), ...texts(0, 7, 'after')]);
  });

  it('continues a copy made while stopped from the original position, under the original ids', async () => {
    const h = new FileSourceHarness(running);
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 40));
    await h.start();
    const before = await h.waitFor(40);
    await h.stop();
    appendFileSync(file, lines(40, 50)); // written while down: read from the copy
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    appendFileSync(file, lines(0, 5, 'after'));
    await h.start();
    const records = await h.waitFor(55);
    expectExactlyOnce(records, [...texts(0, 50), ...texts(0, 5, 'after')]);
    const prefix = before[0]!.id.slice(0, before[0]!.id.lastIndexOf(':'));
    expect(records.filter((r) => (r.payload as { message: string }).message.startsWith('line ')).every((r) => r.id.startsWith(`${prefix}:`))).toBe(true);
  });

  it('keeps a truncated file\'s old identity across a restart, for a copy that shows up later', async () => {
    const h = new FileSourceHarness(running);
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 40));
    await h.start();
    await h.waitFor(40);
    await h.stop();
    appendFileSync(file, lines(40, 45));
    const aside = path.join(h.logs, 'copy.tmp'); // not matched by the include pattern yet
    copyFileSync(file, aside);
    truncateSync(file, 0);
    appendFileSync(file, lines(0, 3, 'after'));
    await h.start(); // sees only the truncated original: retires its old identity
    await h.waitFor(43);
    await h.stop();
    await h.start();
    renameSync(aside, `${file}.1`);
    expectExactlyOnce(await h.waitFor(48), [...texts(0, 45), ...texts(0, 3, 'after')]);
  });

  it('continues a copy seen while it is still being written instead of reading it again', async () => {
    const h = new FileSourceHarness(running);
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 200));
    await h.start();
    await h.waitFor(200);
    const content = readFileSync(file);
    const copy = `${file}.1`;
    writeFileSync(copy, content.subarray(0, 500)); // copytruncate's cp, half way
    await waitFor(() => h.tracks('app.log.1'), 10_000, 'the half-written copy seen');
    appendFileSync(copy, content.subarray(500));
    truncateSync(file, 0);
    appendFileSync(file, lines(0, 2, 'after'));
    expectExactlyOnce(await h.waitFor(202), [...texts(0, 200), ...texts(0, 2, 'after')]);
  });

  it('recognises a copy that was first seen empty, once it has content', async () => {
    const h = new FileSourceHarness(running);
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 100));
    await h.start();
    await h.waitFor(100);
    const copy = `${file}.1`;
    writeFileSync(copy, ''); // cp creates the file before it writes
    await sleep(300);
    appendFileSync(copy, readFileSync(file));
    truncateSync(file, 0);
    appendFileSync(file, lines(0, 2, 'after'));
    expectExactlyOnce(await h.waitFor(102), [...texts(0, 100), ...texts(0, 2, 'after')]);
  });

  it('finishes a file rename-rotated while stopped and reads the new one', async () => {
    const h = new FileSourceHarness(running);
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 40));
    await h.start();
    await h.waitFor(40);
    await h.stop();
    appendFileSync(file, lines(40, 45));
    renameSync(file, `${file}.1`);
    writeFileSync(file, lines(0, 4, 'after'));
    await h.start();
    expectExactlyOnce(await h.waitFor(49), [...texts(0, 45), ...texts(0, 4, 'after')]);
  });
});
