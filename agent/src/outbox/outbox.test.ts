import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { Outbox, OutboxFullError, type Synchronous } from './outbox.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sluice-outbox-'));
let n = 0;
function open(options: Partial<{ maxBytes: number; maxRows: number; synchronous: Synchronous }> = {}): Outbox {
  return new Outbox({ file: path.join(dir, `o${n++}.db`), maxBytes: 1 << 30, maxRows: 1_000_000, synchronous: 'FULL', ...options });
}
const msg = (i: number, group?: string) => ({ topic: 'sluice.t', key: `k${i}`, value: Buffer.from(`v${i}`), headers: { dataset: 't' }, ...(group ? { group } : {}) });

describe('Outbox', () => {
  it('commits messages and checkpoints together and reads them back in order', () => {
    const outbox = open();
    outbox.commit([msg(1), msg(2)], [{ sourceId: 's', key: 'pos', value: '2' }]);
    outbox.commit([msg(3)], [{ sourceId: 's', key: 'pos', value: '3' }, { sourceId: 's', key: 'other', value: 'x' }]);
    expect(outbox.checkpoint('s', 'pos')).toBe('3');
    expect([...outbox.checkpoints('s').keys()].sort()).toEqual(['other', 'pos']);
    const frames = outbox.read(0, 10, 1 << 20);
    expect(frames.map((f) => f.messages.map((m) => m.key.toString()))).toEqual([['k1', 'k2'], ['k3']]);
    expect(frames[0]!.messages[1]!.headers).toEqual({ dataset: 't' });
    expect(frames[0]!.messages[1]!.value.toString()).toBe('v2');
    expect(outbox.stats().rows).toBe(3);
    outbox.acknowledge(frames.slice(0, 1));
    expect(outbox.read(0, 10, 1 << 20).flatMap((f) => f.messages.map((m) => m.key.toString()))).toEqual(['k3']);
    outbox.commit([], [{ sourceId: 's', key: 'other', value: null }]);
    expect(outbox.checkpoint('s', 'other')).toBeUndefined();
    outbox.close();
  });

  it('refuses a commit over its row bound with nothing written, and wakes capacity() after a delete', async () => {
    const outbox = open({ maxRows: 100 });
    outbox.commit(Array.from({ length: 90 }, (_, i) => msg(i)), [{ sourceId: 's', key: 'pos', value: '90' }]);
    expect(() => outbox.commit(Array.from({ length: 20 }, (_, i) => msg(100 + i)), [{ sourceId: 's', key: 'pos', value: '110' }])).toThrow(OutboxFullError);
    expect(outbox.checkpoint('s', 'pos')).toBe('90');
    expect(outbox.stats().rows).toBe(90);
    let woke = false;
    const waiting = outbox.capacity().then(() => (woke = true));
    outbox.commit([msg(1)]); // still room for small ones
    expect(outbox.hasRoom(20)).toBe(false);
    expect(woke).toBe(false);
    outbox.acknowledge(outbox.read(0, 50, 1 << 30));
    await waiting;
    expect(woke).toBe(true);
    outbox.close();
  });

  it('fsyncs a commit that asks for it and goes back to the configured synchronous after', () => {
    const outbox = open({ synchronous: 'NORMAL' });
    const pragma = vi.spyOn(Database.prototype, 'pragma'); // calls through
    try {
      outbox.commit([msg(1)]);
      expect(pragma).not.toHaveBeenCalled();
      outbox.commit([msg(2)], [], { fsync: true });
      expect(pragma.mock.calls.map((call) => call[0])).toEqual(['synchronous = FULL', 'synchronous = NORMAL']);
    } finally {
      pragma.mockRestore();
    }
    expect(outbox.read(0, 10, 1 << 20).flatMap((f) => f.messages.map((m) => m.key.toString()))).toEqual(['k1', 'k2']);
    outbox.close();
  });

  it('bounds by bytes too', () => {
    const outbox = open({ maxBytes: 1000 });
    outbox.commit([{ topic: 't', key: 'a', value: Buffer.alloc(900), headers: {} }]);
    expect(() => outbox.commit([{ topic: 't', key: 'b', value: Buffer.alloc(200), headers: {} }])).toThrow(/outbox full/);
    outbox.close();
  });

  it('drained(group) resolves only when every message of the group is acknowledged', async () => {
    const outbox = open();
    outbox.commit([msg(1, 'g'), msg(2), msg(3, 'g')]);
    let done = false;
    const drained = outbox.drained('g').then(() => (done = true));
    const all = outbox.read(0, 10, 1 << 20);
    expect(all.map((f) => f.group)).toEqual(['g', undefined, 'g']); // a frame holds one group
    outbox.acknowledge(all.slice(0, 2));
    await sleep(10);
    expect(done).toBe(false);
    outbox.acknowledge(all.slice(2));
    await drained;
    await outbox.drained('unknown');
    outbox.close();
  });

  it('reports disk full (SQLITE_FULL) as an error state and recovers when space returns', () => {
    const outbox = open();
    outbox.commit([msg(0)]);
    const pages = 40;
    outbox.limitPages(pages);
    // Random bytes: frames are compressed, so a repetitive value would never fill the disk.
    const big = (i: number) => ({ topic: 't', key: `b${i}`, value: randomBytes(100_000), headers: {} });
    let failure: unknown;
    for (let i = 0; i < 50 && failure === undefined; i++) {
      try {
        outbox.commit([big(i)], [{ sourceId: 's', key: 'pos', value: String(i) }]);
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(OutboxFullError);
    expect((failure as OutboxFullError).reason).toBe('disk-full');
    expect(outbox.stats().state).toBe('disk-full');
    expect(outbox.stats().lastError?.message).toMatch(/disk full/);
    const rowsBefore = outbox.stats().rows;
    const cp = outbox.checkpoint('s', 'pos');
    outbox.limitPages(1_000_000);
    outbox.commit([big(99)], [{ sourceId: 's', key: 'pos', value: '99' }]);
    expect(outbox.stats().state).toBe('ok');
    expect(outbox.stats().rows).toBe(rowsBefore + 1);
    expect(cp).not.toBe('99');
    outbox.close();
  });

  it('cuts a large commit into bounded frames and reads whole frames up to the record bound', () => {
    const outbox = open();
    outbox.commit(Array.from({ length: 25_000 }, (_, i) => msg(i)));
    const first = outbox.read(0, 12_000, Number.MAX_SAFE_INTEGER);
    expect(first.map((f) => f.records)).toEqual([10_000]); // a second frame would pass 12k
    const rest = outbox.read(first[0]!.seq, 100_000, Number.MAX_SAFE_INTEGER);
    expect(rest.map((f) => f.records)).toEqual([10_000, 5000]);
    expect([...first, ...rest].flatMap((f) => f.messages.map((m) => m.key.toString()))).toEqual(Array.from({ length: 25_000 }, (_, i) => `k${i}`));
    outbox.close();
  });

  it('moves the messages of a pre-frame outbox (one row per message) into frames, in order', () => {
    const file = path.join(dir, 'legacy.db');
    const db = new Database(file);
    db.exec('CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL, grp TEXT, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL)');
    const insert = db.prepare('INSERT INTO messages (topic, key, value, headers, grp, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < 5; i++) insert.run('sluice.t', `k${i}`, Buffer.from(`v${i}`), '{"dataset":"t"}', i < 2 ? 'g' : null, 4, Date.now());
    db.close();
    const outbox = new Outbox({ file, maxBytes: 1 << 30, maxRows: 1000, synchronous: 'FULL' });
    expect(outbox.stats().rows).toBe(5);
    const frames = outbox.read(0, 100, 1 << 20);
    expect(frames.map((f) => [f.group, f.messages.map((m) => `${m.key.toString()}=${m.value.toString()}`)])).toEqual([
      ['g', ['k0=v0', 'k1=v1']],
      [undefined, ['k2=v2', 'k3=v3', 'k4=v4']],
    ]);
    outbox.close();
    expect(new Outbox({ file, maxBytes: 1 << 30, maxRows: 1000, synchronous: 'FULL' }).stats().rows).toBe(5); // migrated once
  });

  it('survives kill -9 at random points: every checkpoint has exactly the messages before it', async () => {
    const file = path.join(dir, 'killed.db');
    const writer = path.join(import.meta.dirname, '../../test/fixtures/outbox-writer.ts');
    let previous = 0;
    for (let round = 0; round < 6; round++) {
      const child = fork(writer, [file], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      await new Promise<void>((resolve) => child.once('message', () => resolve()));
      await sleep(50 + Math.random() * 250);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const outbox = new Outbox({ file, maxBytes: 1 << 30, maxRows: 10_000_000, synchronous: 'FULL' });
      const cp = Number(outbox.checkpoint('writer', 'n') ?? '0');
      const keys = outbox.read(0, 10_000_000, Number.MAX_SAFE_INTEGER).flatMap((f) => f.messages.map((m) => Number(m.key.toString())));
      expect(cp).toBeGreaterThan(previous); // the child really committed between kills
      previous = cp;
      expect(keys.length).toBe(cp);
      expect(keys.every((k, i) => k === i + 1)).toBe(true);
      outbox.close();
    }
  });
});
