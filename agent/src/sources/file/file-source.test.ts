import { appendFileSync, copyFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { createLogger } from '@sluice/shared/node/logger';
import { FileSourceHarness, fileConfig as config, lines } from '../../../test/support/file-source-harness.ts';
import { AllowedRoots } from '../../config/allowed-roots.ts';
import { Outbox } from '../../outbox/outbox.ts';
import { AgentMetrics } from '../../runtime/metrics.ts';
import { createSourceContext } from '../../runtime/source-context.ts';
import { FileSource } from './file-source.ts';

const log = createLogger('test', { level: 'silent' });
const running: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of running.splice(0)) await stop();
});

class Harness extends FileSourceHarness {
  constructor() {
    super(running);
  }
}

describe('FileSource', () => {
  it('tails a file, commits positions with the records, and resumes exactly after a restart', async () => {
    const h = new Harness();
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 100));
    await h.start();
    await h.waitFor(100);
    appendFileSync(file, lines(100, 150));
    await h.waitFor(150);
    await h.stop();
    appendFileSync(file, lines(150, 200)); // written while the agent is down
    writeFileSync(path.join(h.logs, 'new.log'), lines(0, 10, 'new')); // a file created while down
    await h.start();
    const records = await h.waitFor(210);
    expect(records).toHaveLength(210);
    const appTexts = records.filter((r) => r.source.path === file).map((r) => (r.payload as { message: string }).message);
    expect(appTexts).toEqual(Array.from({ length: 200 }, (_, i) => `line ${i}`));
    expect(new Set(records.map((r) => r.id)).size).toBe(210);
    const first = records[0]!;
    expect(first.source).toMatchObject({ id: 'logs', kind: 'file', offset: 0 });
    expect(first.id).toMatch(/^a1:logs:f:[0-9a-f]{32}:0$/);
  });

  it('keeps reading a rename-rotated file to its end and picks up the new file', async () => {
    const h = new Harness();
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 50));
    await h.start({ include: [path.join(h.logs, 'app.log')] }); // the rotated name is NOT matched
    await h.waitFor(50);
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, lines(50, 60) + 'no newline at the end'); // the writer still had it open
    writeFileSync(file, lines(0, 5, 'fresh'));
    const records = await h.waitFor(66);
    expect(h.texts().filter((t) => t.startsWith('line'))).toEqual(Array.from({ length: 60 }, (_, i) => `line ${i}`));
    expect(h.texts()).toContain('no newline at the end');
    expect(h.texts().filter((t) => t.startsWith('fresh'))).toHaveLength(5);
    expect(new Set(records.map((r) => r.id)).size).toBe(66);
  });

  it('handles copytruncate and plain truncation without losing or re-reading lines', async () => {
    const h = new Harness();
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 40));
    await h.start();
    await h.waitFor(40);
    appendFileSync(file, lines(40, 45));
    copyFileSync(file, `${file}.1`); // copytruncate: copy, then truncate in place
    truncateSync(file, 0);
    appendFileSync(file, lines(0, 7, 'after'));
    await h.waitFor(52);
    const texts = h.texts();
    expect(texts.filter((t) => t.startsWith('line'))).toEqual(Array.from({ length: 45 }, (_, i) => `line ${i}`));
    expect(texts.filter((t) => t.startsWith('after'))).toHaveLength(7);
    truncateSync(file, 0);
    appendFileSync(file, 'x\n');
    const records = await h.waitFor(53);
    expect(h.texts().at(-1)).toBe('x');
    expect(new Set(records.map((r) => r.id)).size).toBe(53); // a truncated file gets a new generation of ids
  });

  it('recognises a reused inode as a new file by its fingerprint', async () => {
    const h = new Harness();
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 30));
    await h.start();
    await h.waitFor(30);
    await h.stop();
    // Same path, same inode (rewritten in place while down), different content and longer than before.
    writeFileSync(file, lines(0, 60, 'other'));
    await h.start();
    await h.waitFor(90);
    expect(h.texts().filter((t) => t.startsWith('other'))).toHaveLength(60);
  });

  it('turns long lines and invalid UTF-8 into parseError records and keeps going', async () => {
    const h = new Harness();
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, Buffer.concat([Buffer.from('ok 1\n' + 'x'.repeat(5000) + '\nok 2\n'), Buffer.from([0xc3, 0x28, 0x0a]), Buffer.from('ok 3\n')]));
    await h.start({ maxLineBytes: 100 });
    const records = await h.waitFor(5);
    expect(records).toHaveLength(5);
    expect(records[1]!.parseError).toMatchObject({ raw: 'x'.repeat(100), rawEncoding: 'utf8' });
    expect(records[1]!.parseError!.reason).toMatch(/longer than maxLineBytes/);
    expect(records[3]!.parseError).toEqual({ reason: 'invalid UTF-8', raw: Buffer.from([0xc3, 0x28]).toString('base64'), rawEncoding: 'base64' });
    expect(h.texts().filter((t) => t.startsWith('ok'))).toEqual(['ok 1', 'ok 2', 'ok 3']);
  });

  it('groups multiline events and emits the last one after the timeout', async () => {
    const h = new Harness();
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, 'ERROR boom\n  at a\n  at b\nINFO fine\n');
    await h.start({ multiline: { startPattern: '^[A-Z]+ ', maxLines: 100, timeoutMs: 100 } });
    await h.waitFor(2);
    expect(h.texts()).toEqual(['ERROR boom\n  at a\n  at b', 'INFO fine']);
  });

  it('parses JSON lines with format json, keeping bad ones as parseError', async () => {
    const h = new Harness();
    writeFileSync(path.join(h.logs, 'app.log'), '{"a":1}\nnot json\n');
    await h.start({ format: 'json' });
    const records = await h.waitFor(2);
    expect(records[0]!.payload).toEqual({ a: 1 });
    expect(records[1]!.parseError).toMatchObject({ raw: 'not json', rawEncoding: 'utf8' });
  });

  it('starts at the end of existing files on the very first start when startAt is end', async () => {
    const h = new Harness();
    const file = path.join(h.logs, 'app.log');
    writeFileSync(file, lines(0, 20));
    await h.start({ startAt: 'end' });
    await h.idle(); // the first scan placed app.log's position at its end
    appendFileSync(file, lines(20, 22));
    await h.waitFor(2);
    expect(h.texts()).toEqual(['line 20', 'line 21']);
  });

  it('pauses while the outbox is full and resumes without loss', async () => {
    const h = new Harness();
    const small = new Outbox({ file: path.join(h.dir, 'small.db'), maxBytes: 1 << 30, maxRows: 150, synchronous: 'NORMAL' });
    const abort = new AbortController();
    const source = new FileSource(config(h.logs), { baseDir: h.dir, allowedRoots: new AllowedRoots([h.logs], h.dir) });
    // More than one commit's worth (8 chunks of 4 KiB): the second commit finds the outbox over its 150 rows.
    writeFileSync(path.join(h.logs, 'app.log'), lines(0, 5000));
    const ctx = createSourceContext({ agentId: 'a1', sourceId: 'logs', outbox: small, log, signal: abort.signal, metrics: new AgentMetrics({ defaultMetrics: false }), topicPrefix: 'sluice.' });
    await source.start(ctx);
    const seen: string[] = [];
    const deadline = Date.now() + 15_000;
    let sawPaused = false;
    while (seen.length < 5000 && Date.now() < deadline) {
      await sleep(30);
      // As /status shows it: the runtime reports the source paused while its commit waits for room.
      const status = ctx.status(source.status());
      if (status.state === 'paused') {
        sawPaused = true;
        expect(status.paused?.reason).toMatch(/outbox full/);
      }
      if (!sawPaused) continue; // the shipper lags until the source had to pause
      const batch = small.read(0, 100, Number.MAX_SAFE_INTEGER);
      seen.push(...batch.flatMap((f) => f.messages).map((m) => (readWireEnvelope(m.key, m.value, m.headers).payload as { message: string }).message));
      small.acknowledge(batch);
    }
    abort.abort();
    await source.stop();
    expect(sawPaused).toBe(true);
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => `line ${i}`));
    small.close();
    rmSync(h.dir, { recursive: true, force: true });
  });
});
