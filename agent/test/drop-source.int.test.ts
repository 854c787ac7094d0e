/**
 * Drop folder → real outbox → real Kafka (local stack). Each test uses its own dataset (so its own topic)
 * and its own folders.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BLOB_CHUNK_BYTES, CONTENT_TYPES, KAFKA_HEADERS, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { TEST_TOPIC_PREFIX } from '@sluice/shared/node/testing/test-resources';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { DropSource } from '../src/sources/drop/drop-source.ts';
import { dropConfig, type DropSourceInput } from './support/source-config.ts';
import { startSourcePipeline, type SourcePipeline } from './support/source-pipeline.ts';
import { readTopic } from './support/topic-reader.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const brokers = loadStackEnv().kafkaBrokers;
let work: string;
let pipeline: SourcePipeline | undefined;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'sluice-drop-it-'));
});
afterEach(async () => {
  await pipeline?.stop(5000);
  pipeline = undefined;
  await rm(work, { recursive: true, force: true });
});

const dataset = (what: string) => `drop_${what}_${randomBytes(4).toString('hex')}`;

async function start(name: string, config: Partial<DropSourceInput> = {}) {
  const folder = join(work, 'drop');
  const source = new DropSource(dropConfig({ type: 'drop', id: 'drop-it', dataset: name, path: folder, completion: { stableMs: 300 }, ...config }));
  pipeline = await startSourcePipeline({ dir: join(work, 'data'), brokers, source });
  return { folder, source };
}

describe('drop source → Kafka', () => {
  it('CSV with broken rows: every row arrives once, broken ones as parseError records; then the file is in done/', async () => {
    const name = dataset('csv');
    const { folder } = await start(name);
    const lines = ['sku,qty,note'];
    const expectedBroken: number[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 500 === 7) {
        lines.push(`${i},only-two`);
        expectedBroken.push(i);
      } else if (i === 1234) {
        lines.push(`${i},"unclosed,quote`);
        expectedBroken.push(i);
      } else {
        lines.push(`${i},${i % 13},"note, ""quoted"" ${i}"`);
      }
    }
    const csv = lines.join('\n') + '\n';
    await writeFile(join(folder, 'stock.csv.tmp'), csv);
    await rename(join(folder, 'stock.csv.tmp'), join(folder, 'stock.csv'));
    await waitFor(async () => (await readdir(join(folder, 'done'))).includes('stock.csv'), 120_000, 'stock.csv in done/');

    const messages = await readTopic(brokers, topicForDataset(name, TEST_TOPIC_PREFIX), (m) => m.length >= 3000);
    const envelopes = messages.map((m) => readWireEnvelope(m.key, m.value, m.headers));
    expect(envelopes).toHaveLength(3000);
    const sha = createHash('sha256').update(csv).digest('hex');
    expect(new Set(envelopes.map((e) => e.id))).toEqual(new Set(Array.from({ length: 3000 }, (_, i) => `it-agent:drop-it:d:${sha}:${i}`)));
    const broken = envelopes.filter((e) => e.parseError !== undefined);
    expect(broken.map((e) => Number(e.parseError!.raw.split(',')[0])).sort((a, b) => a - b)).toEqual(expectedBroken);
    expect(broken.every((e) => /^line \d+: /.test(e.parseError!.reason))).toBe(true);
    const good = envelopes.filter((e) => e.parseError === undefined);
    expect(good.find((e) => (e.payload as { sku: string }).sku === '42')?.payload).toEqual({ sku: '42', qty: '3', note: 'note, "quoted" 42' });
    expect(messages.every((m, i) => m.key === envelopes[i]?.id && m.headers[KAFKA_HEADERS.dataset] === name)).toBe(true);
  });

  it('an empty file and the same file twice: zero records, then one copy, the duplicate skipped', async () => {
    const name = dataset('dup');
    const { folder } = await start(name);
    await writeFile(join(folder, 'empty.ndjson'), '');
    await writeFile(join(folder, 'a.ndjson'), '{"n":1}\n{"n":2}\n');
    await waitFor(async () => (await readdir(join(folder, 'done'))).includes('a.ndjson'), 60_000);
    await writeFile(join(folder, 'b.ndjson'), '{"n":1}\n{"n":2}\n');
    await waitFor(async () => (await readdir(join(folder, 'done'))).includes('b.ndjson.duplicate.json'), 60_000);
    expect(await readdir(join(folder, 'done'))).toContain('empty.ndjson');
    const messages = await readTopic(brokers, topicForDataset(name, TEST_TOPIC_PREFIX), (m) => m.length >= 2);
    // Give a duplicate time to show up if one had been sent.
    await new Promise((resolve) => setTimeout(resolve, 1000).unref());
    expect(messages).toHaveLength(2);
    expect(pipeline!.outbox.stats().rows).toBe(0);
  });

  it('a 100 MB blob: chunks arrive in order in one partition, reassembled sha256 matches, then the envelope', async () => {
    const name = dataset('blob');
    const { folder } = await start(name, { completion: { mode: 'rename-in' } });
    const size = 100 * 1024 * 1024;
    const hash = createHash('sha256');
    const partial = join(folder, 'big.bin.part');
    const out = createWriteStream(partial);
    const block = randomBytes(1024 * 1024);
    for (let i = 0; i < 100; i++) {
      block.writeUInt32BE(i, 0);
      hash.update(block);
      if (!out.write(Buffer.from(block))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const sha = hash.digest('hex');
    await rename(partial, join(folder, 'big.bin'));
    const chunks = Math.ceil(size / BLOB_CHUNK_BYTES);
    await waitFor(async () => (await readdir(join(folder, 'done'))).includes('big.bin'), 380_000, 'big.bin in done/');
    expect(existsSync(join(folder, 'big.bin'))).toBe(false);

    const reassembled = createHash('sha256');
    let next = 0;
    let envelope: Envelope | undefined;
    const partitions = new Set<number>();
    await readTopic(
      brokers,
      topicForDataset(name, TEST_TOPIC_PREFIX),
      (messages) => {
        for (const m of messages.splice(0)) {
          partitions.add(m.partition);
          if (m.headers[KAFKA_HEADERS.contentType] === CONTENT_TYPES.blobChunk) {
            expect(m.headers[KAFKA_HEADERS.blobChunk]).toBe(String(next));
            expect(m.headers[KAFKA_HEADERS.blobSha256]).toBe(sha);
            reassembled.update(m.value);
            next++;
          } else {
            envelope = readWireEnvelope(m.key, m.value, m.headers);
          }
        }
        return envelope !== undefined;
      },
      120_000,
    );
    expect(next).toBe(chunks);
    expect(reassembled.digest('hex')).toBe(sha);
    expect(partitions.size).toBe(1);
    expect(envelope?.blob).toMatchObject({ key: `blobs/${sha}`, size, sha256: sha, chunks, fileName: 'big.bin' });
    // 100 MB through a shared 2-core machine's Kafka takes its time (about a minute here): a wide bound.
  }, 600_000);
});
