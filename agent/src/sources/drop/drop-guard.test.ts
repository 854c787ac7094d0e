import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { DropSourceInput } from '../../../test/support/source-config.ts';
import { useDropFolder } from '../../../test/support/drop-folder.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const folder = useDropFolder('sluice-drop-guard-');

async function startDrop(config: Partial<DropSourceInput> = {}) {
  const started = await folder.start(config);
  return { ...started, warn: vi.spyOn(started.ctx.log, 'warn') };
}

const done = async () => (await readdir(join(folder.dir, 'done'))).sort();
const report = async (name: string) =>
  JSON.parse(await readFile(join(folder.dir, 'done', `${name}.report.json`), 'utf8')) as { file: string; rows: number; failed: number; errors: Array<{ row: number; line: number; reason: string }> };

describe('drop source: records are judged where they are made', () => {
  it('a 1.2 MB JSON document is refused for its size: failed: 1 in the done/ report, with the reason, and logged', async () => {
    const { ctx, warn, source } = await startDrop();
    await writeFile(join(folder.dir, 'big.json'), JSON.stringify({ text: 'x'.repeat(1_200_000) }));
    await waitFor(async () => (await done()).includes('big.json.report.json'), 15_000, 'big.json report');
    expect(await report('big.json')).toMatchObject({ file: 'big.json', rows: 1, failed: 1, errors: [{ row: 0, line: 1, reason: expect.stringMatching(/^line 1: record of \d+ bytes is over maxRecordBytes \(1048576\)/) as unknown }] });
    const [record] = ctx.envelopes();
    expect(record?.parseError?.reason).toMatch(/over maxRecordBytes/);
    expect(ctx.committed.every((m) => m.value.length <= 1024 * 1024)).toBe(true);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ file: 'big.json', failed: 1 }), expect.stringMatching(/rows refused/));
    expect(source.status().details).toMatchObject({ failedRows: 1 });
  });

  it('NDJSON lines no store would take become parseError rows, each with its reason; the good ones flow on', async () => {
    const { ctx } = await startDrop();
    const lines = [
      Buffer.from('{"a":1}'),
      Buffer.concat([Buffer.from('{"s":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
      Buffer.from('{"s":"nul\\u0000"}'),
      Buffer.from('{"n":1e400}'),
      Buffer.from('['.repeat(5000) + ']'.repeat(5000)),
      Buffer.from('{"a":2}'),
    ];
    await writeFile(join(folder.dir, 'events.ndjson'), Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    await waitFor(async () => (await done()).includes('events.ndjson.report.json'), 15_000, 'events report');
    expect(ctx.envelopes().map((r) => r.payload ?? r.parseError?.reason)).toEqual([
      { a: 1 },
      'line 2: not valid UTF-8 (the invalid bytes would have been stored as U+FFFD)',
      'line 3: payload.s: contains a NUL character (\\u0000), which PostgreSQL cannot store',
      'line 4: payload.n: not a finite number',
      'line 5: nested more than 16 levels deep',
      { a: 2 },
    ]);
    expect(await report('events.ndjson')).toMatchObject({ rows: 6, failed: 4 });
  });

  it('CSV rows of a 10,000-column file are refused (no search index maps that many fields); the report counts them', async () => {
    const { ctx } = await startDrop();
    const row = (p: string) => Array.from({ length: 10_000 }, (_, i) => `${p}${i}`).join(',');
    await writeFile(join(folder.dir, 'wide.csv'), `${row('c')}\n${row('v')}\n${row('w')}\n`);
    await waitFor(async () => (await done()).includes('wide.csv.report.json'), 15_000, 'wide report');
    expect(ctx.envelopes().map((r) => r.parseError?.reason)).toEqual([
      expect.stringMatching(/^line 2: has more than 400 distinct fields/),
      expect.stringMatching(/^line 3: has more than 400 distinct fields/),
    ]);
    expect(await report('wide.csv')).toMatchObject({ rows: 2, failed: 2 });
  });

  it('a character cut by a read-chunk boundary is still valid UTF-8 (no row refused)', async () => {
    const { ctx } = await startDrop();
    // The file is read in 256 KiB chunks: put the two bytes of "é" on either side of the first boundary.
    const head = '{"s":"';
    const pad = 'x'.repeat(256 * 1024 - head.length - 1);
    // A genuine U+FFFD later on: only a file with invalid bytes gets its replacement characters refused.
    await writeFile(join(folder.dir, 'edge.ndjson'), `${head}${pad}é"}\n{"r":"\uFFFD"}\n`);
    await waitFor(async () => (await done()).includes('edge.ndjson'), 15_000, 'edge.ndjson in done/');
    expect(ctx.envelopes().map((r) => r.parseError?.reason ?? r.payload)).toEqual([expect.any(Object), { r: '\uFFFD' }]);
    expect((ctx.envelopes()[0]?.payload as { s: string }).s.endsWith('xé')).toBe(true);
    expect(await done()).not.toContain('edge.ndjson.report.json');
  });

  it('a JSON file that is not UTF-8 goes to failed/, never shipped as altered text', async () => {
    const { ctx } = await startDrop();
    await writeFile(join(folder.dir, 'latin1.json'), Buffer.concat([Buffer.from('[{"s":"caf'), Buffer.from([0xe9]), Buffer.from('"}]')]));
    await waitFor(async () => (await readdir(join(folder.dir, 'failed'))).includes('latin1.json.error.json'), 15_000, 'latin1 in failed/');
    expect(ctx.envelopes()).toHaveLength(1);
    expect(ctx.envelopes()[0]?.parseError).toMatchObject({ reason: expect.stringMatching(/not valid UTF-8/) as unknown, rawEncoding: 'base64' });
  });
});
