import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOB_CHUNK_BYTES, CONTENT_TYPES, KAFKA_HEADERS } from '@sluice/shared/envelope';
import { ManualClock } from '@sluice/shared/node/testing/manual-clock';
import { useDropFolder } from '../../../test/support/drop-folder.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const folder = useDropFolder();
const startDrop = folder.start;

const doneFiles = async () => (await readdir(join(folder.dir, 'done'))).sort();
const failedFiles = async () => (await readdir(join(folder.dir, 'failed'))).sort();

describe('drop source: CSV', () => {
  it('ships good rows and one parseError record per broken row (with its line), then moves the file to done/', async () => {
    const csv = ['id,name,qty', '1,apple,3', '2,"pear, green",4', '3,broken', '"4","multi', 'line",5', '5,"stray,6', '6,kiwi,7', ''].join('\n');
    await writeFile(join(folder.dir, 'orders.csv'), csv);
    const { ctx } = await startDrop();
    await waitFor(async () => (await doneFiles()).includes('orders.csv'), 15_000, 'orders.csv in done/');
    const records = ctx.envelopes();
    expect(records.map((r) => r.payload ?? r.parseError?.reason)).toEqual([
      { id: '1', name: 'apple', qty: '3' },
      { id: '2', name: 'pear, green', qty: '4' },
      'line 4: expected 3 fields, got 2',
      { id: '4', name: 'multi\nline', qty: '5' },
      'line 7: quote not closed',
      { id: '6', name: 'kiwi', qty: '7' },
    ]);
    expect(records[2]?.parseError?.raw).toBe('3,broken');
    expect(records[4]?.parseError?.raw).toBe('5,"stray,6');
    // The consumer types a CSV row's string fields by the dataset schema; this is how it knows one.
    expect(records[0]?.source).toMatchObject({ kind: 'drop', format: 'csv', file: 'orders.csv', row: 0 });
    const sha = createHash('sha256').update(csv).digest('hex');
    expect(records.map((r) => r.id)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `agent1:drop1:d:${sha}:${i}`));
    expect(ctx.committed.every((m) => m.group === sha)).toBe(true);
    expect(ctx.store.get(`drop:${sha}`)).toContain('"state":"done"');
    expect(existsSync(join(folder.dir, 'orders.csv'))).toBe(false);
  });

  it('two stray quotes far apart cost their two rows, not the rows between them', async () => {
    const lines = ['n,v', '0,"open', ...Array.from({ length: 50 }, (_, i) => `${i + 1},ok`), '51,"again', '52,ok', ''];
    await writeFile(join(folder.dir, 'stray.csv'), lines.join('\n'));
    const { ctx } = await startDrop();
    await waitFor(async () => (await doneFiles()).includes('stray.csv'));
    const records = ctx.envelopes();
    expect(records).toHaveLength(53);
    expect(records.filter((r) => r.parseError).map((r) => [r.parseError?.reason, r.parseError?.raw])).toEqual([
      ['line 2: quote not closed', '0,"open'],
      ['line 53: quote not closed', '51,"again'],
    ]);
    expect(records.filter((r) => !r.parseError).map((r) => (r.payload as { n: string }).n)).toEqual([...Array.from({ length: 50 }, (_, i) => String(i + 1)), '52']);
  });

  it('moves the file only after Kafka acknowledged every record of it', async () => {
    await writeFile(join(folder.dir, 'a.csv'), 'x\n1\n2\n');
    const { ctx } = await startDrop({}, { autoAck: false });
    await ctx.until(() => ctx.committed.length === 2);
    // Committed, and now waiting for Kafka to acknowledge the file's group: the file stays until it has.
    await ctx.until(() => ctx.draining.size === 1);
    expect(existsSync(join(folder.dir, 'a.csv'))).toBe(true);
    expect(existsSync(join(folder.dir, 'done', 'a.csv'))).toBe(false);
    ctx.ack();
    await waitFor(async () => (await doneFiles()).includes('a.csv'));
  });

  it('resumes a file after a crash mid-file without losing or repeating a row', async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => `${i},v${i}`);
    await writeFile(join(folder.dir, 'big.csv'), ['n,v', ...rows].join('\n'));
    const store = new Map<string, string>();
    let commits = 0;
    const first = await startDrop({}, {
      checkpoints: store,
      beforeCommit: () => {
        if (++commits === 2) throw new Error('simulated crash');
      },
    });
    await waitFor(async () => (await failedFiles()).length > 0 || first.ctx.errors.length > 0);
    first.ctx.controller.abort();
    await first.source.stop();
    // The "crash" sent the file to failed/; an operator puts it back and a new agent run takes over.
    expect(first.ctx.committed).toHaveLength(1000);
    await rename(join(folder.dir, 'failed', 'big.csv'), join(folder.dir, 'big.csv'));
    const second = await startDrop({}, { checkpoints: store });
    await waitFor(async () => (await doneFiles()).includes('big.csv'));
    const all = [...first.ctx.envelopes(), ...second.ctx.envelopes()];
    expect(all).toHaveLength(2500);
    expect(new Set(all.map((r) => r.id)).size).toBe(2500);
    expect(all.map((r) => (r.payload as { n: string }).n)).toEqual(rows.map((_, i) => String(i)));
  });
});

describe('drop source: file lifecycle', () => {
  it('an empty file goes to done/ with zero records', async () => {
    await writeFile(join(folder.dir, 'empty.csv'), '');
    const { ctx } = await startDrop();
    await waitFor(async () => (await doneFiles()).includes('empty.csv'));
    expect(ctx.committed).toHaveLength(0);
    expect(ctx.errors).toHaveLength(0);
  });

  it('waits for a file still being written (stable size and mtime), then reads it once, whole', async () => {
    const clock = new ManualClock();
    const { ctx } = await startDrop({ completion: { stableMs: 700 } }, { clock });
    const path = join(folder.dir, 'slow.ndjson');
    /** The source is waiting for the file to settle (looking again in 250 ms), and has read none of it. */
    const waitingForStableFile = async (): Promise<void> => {
      await clock.untilSleeping();
      expect(clock.sleeping.map((s) => s.ms)).toEqual([250]);
      expect(ctx.committed).toHaveLength(0);
    };
    await writeFile(path, '{"n":0}\n');
    for (let i = 1; i < 5; i++) {
      await waitingForStableFile();
      await appendFile(path, `{"n":${i}}\n`);
      clock.advance(250); // the next look sees the change, and the count starts again
    }
    // Unchanged from now on: complete once 700 ms have passed since the last change was seen.
    for (let waited = 0; waited < 700; waited += 250) {
      await waitingForStableFile();
      clock.advance(250);
    }
    await waitFor(async () => (await doneFiles()).includes('slow.ndjson'));
    expect(ctx.envelopes().map((r) => r.payload)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
  });

  it('rename-in: ignores temp names until renamed', async () => {
    await writeFile(join(folder.dir, 'data.ndjson.tmp'), '{"a":1}\n');
    await writeFile(join(folder.dir, '.hidden.ndjson'), '{"a":2}\n');
    // Files present at start are all considered before start() resolves: the temp names were passed over.
    const { source, ctx } = await startDrop({ completion: { mode: 'rename-in' } });
    expect(source.status().details).toMatchObject({ inFlight: 0 });
    expect(ctx.committed).toHaveLength(0);
    await rename(join(folder.dir, 'data.ndjson.tmp'), join(folder.dir, 'data.ndjson'));
    await waitFor(async () => (await doneFiles()).includes('data.ndjson'));
    expect(ctx.envelopes().map((r) => r.payload)).toEqual([{ a: 1 }]);
    expect(existsSync(join(folder.dir, '.hidden.ndjson'))).toBe(true);
  });

  it('the same content dropped twice is skipped (with a note), unless duplicates: ingest', async () => {
    const { ctx } = await startDrop();
    await writeFile(join(folder.dir, 'one.ndjson'), '{"a":1}\n{"a":2}\n');
    await waitFor(async () => (await doneFiles()).includes('one.ndjson'));
    await writeFile(join(folder.dir, 'two.ndjson'), '{"a":1}\n{"a":2}\n');
    await waitFor(async () => (await doneFiles()).includes('two.ndjson.duplicate.json'));
    expect(ctx.committed).toHaveLength(2);
    const note = JSON.parse(await readFile(join(folder.dir, 'done', 'two.ndjson.duplicate.json'), 'utf8')) as { reason: string; first: { file: string } };
    expect(note.reason).toMatch(/duplicate/);
    expect(note.first.file).toBe('one.ndjson');
  });

  it('duplicates: ingest ships the same content again (same record ids: stores keep one copy)', async () => {
    const { ctx } = await startDrop({ duplicates: 'ingest' });
    await writeFile(join(folder.dir, 'one.ndjson'), '{"a":1}\n');
    await waitFor(async () => (await doneFiles()).includes('one.ndjson'));
    await writeFile(join(folder.dir, 'two.ndjson'), '{"a":1}\n');
    await waitFor(async () => (await doneFiles()).includes('two.ndjson'));
    expect(ctx.committed).toHaveLength(2);
    expect(ctx.committed[0]?.key).toBe(ctx.committed[1]?.key);
  });

  it('NDJSON: each bad line is a parseError record with its line number', async () => {
    const { ctx } = await startDrop();
    await writeFile(join(folder.dir, 'events.jsonl'), '{"a":1}\n{oops\n\n{"a":3}\n');
    await waitFor(async () => (await doneFiles()).includes('events.jsonl'));
    const records = ctx.envelopes();
    expect(records).toHaveLength(3);
    expect(records[1]?.parseError?.reason).toMatch(/^line 2: /);
    expect(records[1]?.parseError?.raw).toBe('{oops');
    expect(records[2]?.payload).toEqual({ a: 3 });
  });

  it('invalid JSON: the file goes to failed/ with its reason, and its raw text ships as a parseError record', async () => {
    const { ctx } = await startDrop();
    await writeFile(join(folder.dir, 'bad.json'), '[{"a":1},{"a":');
    await waitFor(async () => (await failedFiles()).includes('bad.json.error.json'));
    const error = JSON.parse(await readFile(join(folder.dir, 'failed', 'bad.json.error.json'), 'utf8')) as Record<string, unknown>;
    expect(error).toMatchObject({ file: 'bad.json', reason: expect.stringMatching(/invalid JSON/) as unknown });
    expect(error.at).toBeTypeOf('string');
    expect(ctx.envelopes()).toHaveLength(1);
    expect(ctx.envelopes()[0]?.parseError?.raw).toBe('[{"a":1},{"a":');
  });

  it('invalid JSON too big for a record: failed/ alone keeps it', async () => {
    const { ctx } = await startDrop({ maxRecordBytes: 64 });
    await writeFile(join(folder.dir, 'bad.json'), '[' + '{"a":1},'.repeat(20));
    await waitFor(async () => (await failedFiles()).includes('bad.json.error.json'));
    expect(ctx.committed).toHaveLength(0);
    expect(await readFile(join(folder.dir, 'failed', 'bad.json'), 'utf8')).toMatch(/^\[/);
  });

  it('a valid JSON array gives one record per element', async () => {
    const { ctx } = await startDrop();
    await writeFile(join(folder.dir, 'list.json'), '[{"a":1},{"a":2},3]');
    await waitFor(async () => (await doneFiles()).includes('list.json'));
    expect(ctx.envelopes().map((r) => r.payload)).toEqual([{ a: 1 }, { a: 2 }, 3]);
  });

  it('a malformed element of a JSON array is a parseError record with its line; the elements around it flow on', async () => {
    const { ctx } = await startDrop();
    await writeFile(join(folder.dir, 'mixed.json'), '[{"a":1},\n{"a":tru},\n{"a":3}]');
    await waitFor(async () => (await doneFiles()).includes('mixed.json'));
    const records = ctx.envelopes();
    expect(records.map((r) => r.payload ?? null)).toEqual([{ a: 1 }, null, { a: 3 }]);
    expect(records[1]?.parseError?.reason).toMatch(/^line 2: /);
    expect(records[1]?.parseError?.raw).toBe('{"a":tru}');
  });

  it('a JSON array element over maxRecordBytes is refused with its raw text cut, the rest flows on', async () => {
    const { ctx } = await startDrop({ maxRecordBytes: 512 });
    await writeFile(join(folder.dir, 'big.json'), `[{"a":1},{"b":"${'x'.repeat(2000)}"},{"a":3}]`);
    await waitFor(async () => (await doneFiles()).includes('big.json'));
    const records = ctx.envelopes();
    expect(records).toHaveLength(3);
    expect(records[1]?.parseError?.reason).toMatch(/array element of 2008 bytes is over maxRecordBytes/);
    expect(records[2]?.payload).toEqual({ a: 3 });
  });

  it('a file over maxFileBytes goes to failed/ with a reason (unreadable)', async () => {
    const { ctx } = await startDrop({ maxFileBytes: 10 });
    await writeFile(join(folder.dir, 'huge.ndjson'), '{"a":"0123456789"}\n');
    await waitFor(async () => (await failedFiles()).includes('huge.ndjson.error.json'));
    const error = JSON.parse(await readFile(join(folder.dir, 'failed', 'huge.ndjson.error.json'), 'utf8')) as { reason: string };
    expect(error.reason).toMatch(/over maxFileBytes/);
    expect(ctx.committed).toHaveLength(0);
    expect(ctx.errors).toHaveLength(1);
  });

  it('a symlink pointing outside the folder is refused into failed/, its target untouched', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'sluice-outside-'));
    try {
      await writeFile(join(outside, 'secret.csv'), 'a\n1\n');
      await symlink(join(outside, 'secret.csv'), join(folder.dir, 'link.csv'));
      const { ctx } = await startDrop();
      await waitFor(async () => (await failedFiles()).includes('link.csv.error.json'));
      const error = JSON.parse(await readFile(join(folder.dir, 'failed', 'link.csv.error.json'), 'utf8')) as { reason: string };
      expect(error.reason).toMatch(/outside the drop folder/);
      expect(ctx.committed).toHaveLength(0);
      expect(await readFile(join(outside, 'secret.csv'), 'utf8')).toBe('a\n1\n');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('honours include globs and after: delete', async () => {
    const { ctx } = await startDrop({ include: ['*.csv'], after: 'delete' });
    await writeFile(join(folder.dir, 'skip.txt'), 'nope');
    await writeFile(join(folder.dir, 'take.csv'), 'a\n1\n');
    await waitFor(() => !existsSync(join(folder.dir, 'take.csv')));
    expect(ctx.envelopes().map((r) => r.payload)).toEqual([{ a: '1' }]);
    expect(await doneFiles()).toEqual([]);
    expect(existsSync(join(folder.dir, 'skip.txt'))).toBe(true);
  });
});

describe('drop source: blob', () => {
  it('ships chunks in order (key = blob record id) then one envelope pointing at blobs/<sha256>', async () => {
    const data = Buffer.alloc(BLOB_CHUNK_BYTES * 2 + 1000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const sha = createHash('sha256').update(data).digest('hex');
    await writeFile(join(folder.dir, 'scan.pdf'), data);
    const { ctx } = await startDrop();
    await waitFor(async () => (await doneFiles()).includes('scan.pdf'));
    const chunks = ctx.committed.filter((m) => m.headers[KAFKA_HEADERS.contentType] === CONTENT_TYPES.blobChunk);
    expect(chunks.map((m) => m.headers[KAFKA_HEADERS.blobChunk])).toEqual(['0', '1', '2']);
    expect(chunks.every((m) => m.headers[KAFKA_HEADERS.blobChunks] === '3' && m.headers[KAFKA_HEADERS.blobSha256] === sha)).toBe(true);
    expect(createHash('sha256').update(Buffer.concat(chunks.map((m) => Buffer.from(m.value)))).digest('hex')).toBe(sha);
    const [envelope] = ctx.envelopes();
    expect(envelope?.blob).toEqual({ key: `blobs/${sha}`, size: data.length, sha256: sha, contentType: 'application/pdf', chunks: 3, fileName: 'scan.pdf' });
    expect(chunks.every((m) => m.key === envelope?.id)).toBe(true);
    // Keyed, so the producer hashes the key and chunks and envelope share a partition.
    expect([...chunks, ctx.committed.at(-1)].every((m) => m?.keyed === true)).toBe(true);
    expect(ctx.committed.at(-1)?.key).toBe(envelope?.id);
  });
});
