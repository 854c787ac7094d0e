import { afterEach, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { CONTENT_TYPES, KAFKA_HEADERS } from '@sluice/shared/envelope';
import { createLogger } from '@sluice/shared/node/logger';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { failed, ok } from '@sluice/shared/outcome';
import { ValidatorCache } from '../src/datasets/validators.ts';
import { ControlPlaneMetrics } from '../src/metrics/metrics.ts';
import type { DeadLetters, DlqEntry } from '../src/consumer/dead-letters.ts';
import { Pipeline, highestOffsets, type BlobChunk } from '../src/consumer/pipeline.ts';
import { utf8Text } from '../src/consumer/record-intake.ts';
import type { Envelope } from '@sluice/shared/envelope';
import { SinkRegistry } from '../src/sinks/registry.ts';
import { MemorySink } from './support/memory-sink.ts';
import { envelope, message } from './support/messages.ts';

const sensors: DatasetVersion = {
  spec: { name: 'sensors', sinks: { postgres: { enabled: true }, search: { enabled: true }, objectStore: { enabled: false, partitionBy: 'hour' } } },
  version: 2,
  schema: { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } },
};

class MemoryDeadLetters implements DeadLetters {
  readonly entries: DlqEntry[] = [];
  down = false;
  attempts = 0;
  write(entries: readonly DlqEntry[]): Promise<void> {
    this.attempts++;
    if (this.down) return Promise.reject(new Error('dlq down'));
    this.entries.push(...entries);
    return Promise.resolve();
  }
}

function setup(options: { maxRecordBytes?: number; blobs?: BlobChunk[]; completed?: string[] } = {}) {
  const pg = new MemorySink('postgres');
  const search = new MemorySink('search');
  const objects = new MemorySink('object-store');
  const sinks = new SinkRegistry().register('postgres', pg).register('search', search).register('objectStore', objects);
  const dlq = new MemoryDeadLetters();
  const metrics = new ControlPlaneMetrics();
  const controller = new AbortController();
  const blobs = options.blobs;
  const pipeline = new Pipeline({
    datasets: { latest: (name) => Promise.resolve(name === 'sensors' ? sensors : undefined) },
    validators: new ValidatorCache(),
    sinks,
    deadLetters: dlq,
    metrics,
    logger: createLogger('test', { level: 'silent' }),
    maxRecordBytes: options.maxRecordBytes ?? 1024 * 1024,
    retry: { minDelayMs: 5, maxDelayMs: 20 },
    breaker: { resetTimeoutMs: 30 },
    signal: controller.signal,
    ...(blobs
      ? {
          blobs: {
            writeChunk: (chunk: BlobChunk) => (blobs.push(chunk), Promise.resolve(ok)),
            complete: (e: Pick<Envelope, 'id' | 'blob'>) =>
              Promise.resolve(e.blob!.sha256.startsWith('b') ? (options.completed?.push(e.id), ok) : failed('sha256 mismatch: got 00ff')),
          },
        }
      : {}),
  });
  return { pipeline, pg, search, objects, dlq, metrics, controller };
}

/** Waits for a condition instead of a fixed time: the machine may be busy. */
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe('Pipeline', () => {
  it('writes valid records to every enabled sink and commits the highest offset per partition', async () => {
    const { pipeline, pg, search, objects, dlq } = setup();
    cleanup.push(() => pipeline.close());
    const msgs = [0, 1, 2].map((i) => message(envelope('sensors', `r${i}`, { device: 'd', temperature: i }), { partition: 1, offset: BigInt(10 + i) }));
    const result = await pipeline.process(msgs);
    expect([...pg.records.keys()]).toEqual(['r0', 'r1', 'r2']);
    expect([...search.records.keys()]).toEqual(['r0', 'r1', 'r2']);
    expect(objects.records.size).toBe(0);
    expect(dlq.entries).toEqual([]);
    expect(result.commit).toEqual([{ topic: 'sluice.sensors', partition: 1, offset: 12n }]);
    expect(result.counts.get('sensors')).toEqual({ ingested: 3, failed: 0 });
  });

  it('dead-letters each kind of bad record with a readable reason while the valid ones flow on', async () => {
    const { pipeline, pg, dlq } = setup({ maxRecordBytes: 2000 });
    cleanup.push(() => pipeline.close());
    const poison = Buffer.from([0xff, 0x00, 0x13, 0x37]);
    const msgs = [
      message(envelope('sensors', 'good-1', { device: 'a', temperature: 1 }), { offset: 1n }),
      message(envelope('sensors', 'bad-type', { device: 'a', temperature: 'hot' }), { offset: 2n }),
      message(envelope('nope', 'unknown-ds', { x: 1 }), { topic: 'sluice.sensors', offset: 3n }),
      message(poison, { topic: 'sluice.sensors', offset: 4n }),
      message(envelope('sensors', 'unparsed', null, { parseError: { reason: 'unterminated string at column 7', raw: '{"a":"' } }), { offset: 5n }),
      message(envelope('sensors', 'huge', { device: 'x'.repeat(5000) }), { offset: 6n }),
      message(JSON.stringify({ hello: 'world' }), { topic: 'sluice.sensors', offset: 7n }),
      message(envelope('sensors', 'good-2', { device: 'b' }), { offset: 8n }),
    ];
    const result = await pipeline.process(msgs);
    expect([...pg.records.keys()]).toEqual(['good-1', 'good-2']);
    const reasons = Object.fromEntries(dlq.entries.map((e) => [String(e.offset), e.reason]));
    expect(reasons['2']).toBe('does not match schema version 2 of sensors: /temperature: must be number');
    expect(reasons['3']).toBe('unknown dataset nope');
    expect(reasons['4']).toMatch(/^not a Sluice envelope: /);
    expect(reasons['5']).toBe('could not be parsed at the source: unterminated string at column 7');
    expect(reasons['6']).toMatch(/^record is \d+ bytes, larger than the limit of 2000 bytes$/);
    expect(reasons['7']).toMatch(/^not a Sluice envelope: \/: must have required property 'id'/);
    const poisonEntry = dlq.entries.find((e) => e.offset === 4n)!;
    expect(poisonEntry.original).toEqual(poison);
    expect(dlq.entries.find((e) => e.offset === 2n)).toMatchObject({ dataset: 'sensors', recordId: 'bad-type', schemaVersion: 2 });
    expect(result.commit).toEqual([{ topic: 'sluice.sensors', partition: 0, offset: 8n }]);
  });

  it('stalls on a retryable sink without committing, then resumes and writes every record once', async () => {
    const { pipeline, pg, search, metrics } = setup();
    cleanup.push(() => pipeline.close());
    search.mode = { kind: 'retryable' };
    const msgs = [0, 1].map((i) => message(envelope('sensors', `s${i}`, { device: 'd' }), { offset: BigInt(i) }));
    let settled = false;
    const processing = pipeline.process(msgs).finally(() => (settled = true));
    await waitFor(() => search.writes > 2, { timeoutMs: 10_000, intervalMs: 10 });
    expect(settled).toBe(false);
    expect((await metrics.registry.getSingleMetric('sluice_sink_paused')!.get()).values).toContainEqual(expect.objectContaining({ value: 1, labels: { sink: 'search' } }));
    search.mode = { kind: 'ok' };
    const result = await processing;
    expect([...search.records.keys()]).toEqual(['s0', 's1']);
    expect([...pg.records.keys()]).toEqual(['s0', 's1']);
    expect(result.commit).toEqual([{ topic: 'sluice.sensors', partition: 0, offset: 1n }]);
  });

  it('treats a throwing sink as down (retried), not as a reason to drop records', async () => {
    const { pipeline, pg } = setup();
    cleanup.push(() => pipeline.close());
    pg.mode = { kind: 'throw' };
    const processing = pipeline.process([message(envelope('sensors', 't0', { device: 'd' }))]);
    await waitFor(() => pg.writes >= 2, { timeoutMs: 10_000, intervalMs: 10 });
    pg.mode = { kind: 'ok' };
    await processing;
    expect([...pg.records.keys()]).toEqual(['t0']);
  });

  it('does not commit when shut down while a sink is still down', async () => {
    const { pipeline, pg, controller } = setup();
    cleanup.push(() => pipeline.close());
    pg.mode = { kind: 'retryable' };
    const processing = pipeline.process([message(envelope('sensors', 'x', { device: 'd' }))]);
    await waitFor(() => pg.writes >= 1, { timeoutMs: 10_000, intervalMs: 10 });
    controller.abort();
    await expect(processing).rejects.toThrow();
  });

  it('dead-letters records a sink rejected, and the whole batch when a sink fails it', async () => {
    const { pipeline, pg, search, dlq } = setup();
    cleanup.push(() => pipeline.close());
    search.mode = { kind: 'reject', ids: ['m1'], reason: 'mapper_parsing_exception' };
    await pipeline.process([0, 1, 2].map((i) => message(envelope('sensors', `m${i}`, { device: 'd' }), { offset: BigInt(100 + i) })));
    expect([...pg.records.keys()]).toEqual(['m0', 'm1', 'm2']);
    expect([...search.records.keys()]).toEqual(['m0', 'm2']);
    expect(dlq.entries).toEqual([expect.objectContaining({ recordId: 'm1', reason: 'sink search rejected the record: mapper_parsing_exception; stored in postgres' })]);

    dlq.entries.length = 0;
    search.mode = { kind: 'ok' };
    pg.mode = { kind: 'failed', reason: 'value too long for type' };
    const result = await pipeline.process([message(envelope('sensors', 'f0', { device: 'd' }), { offset: 200n })]);
    expect(dlq.entries).toEqual([expect.objectContaining({ recordId: 'f0', reason: 'sink postgres refused the batch: value too long for type; stored in search' })]);
    expect(result.counts.get('sensors')).toEqual({ ingested: 0, failed: 1 });
  });

  it('dead-letters what any store would refuse before any sink writes it, with the reason', async () => {
    const { pipeline, pg, search, dlq } = setup();
    cleanup.push(() => pipeline.close());
    const payloads = [{ device: 'a\u0000b' }, { device: 'd', temperature: 1.23e29 }, { device: 'd', deep: 'DEEP' }, { device: 'ok' }];
    // Too deep for JSON.stringify: the 5,000 levels go into the text the way a producer would have sent them.
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const bytes = (p: object, i: number) => Buffer.from(JSON.stringify(envelope('sensors', `g${i}`, p)).replace('"DEEP"', deep));
    await pipeline.process(payloads.map((p, i) => message(bytes(p, i), { offset: BigInt(300 + i) })));
    expect([...pg.records.keys()]).toEqual(['g3']);
    expect([...search.records.keys()]).toEqual(['g3']);
    expect(dlq.entries.map((e) => [e.recordId, e.reason])).toEqual([
      ['g0', 'refused before any store: payload.device: contains a NUL character (\\u0000), which PostgreSQL cannot store'],
      ['g1', expect.stringMatching(/^refused before any store: payload\.temperature: number 1\.23e\+29 is beyond/) as unknown],
      ['g2', expect.stringMatching(/^refused before any store: nested more than 16 levels deep/) as unknown],
    ]);
  });

  it('a rejection two sinks make is one DLQ entry with both reasons, and says no store holds it', async () => {
    const { pipeline, pg, search, dlq } = setup();
    cleanup.push(() => pipeline.close());
    pg.mode = { kind: 'reject', ids: ['r0'], reason: 'bad row' };
    search.mode = { kind: 'reject', ids: ['r0'], reason: 'bad doc' };
    await pipeline.process([message(envelope('sensors', 'r0', { device: 'd' }), { offset: 400n })]);
    expect(dlq.entries.map((e) => e.reason)).toEqual(['sink postgres rejected the record: bad row; sink search rejected the record: bad doc; no store holds it']);
  });

  it('retries the DLQ write until it succeeds before returning offsets', async () => {
    const { pipeline, dlq } = setup();
    cleanup.push(() => pipeline.close());
    dlq.down = true;
    const processing = pipeline.process([message('garbage', { topic: 'sluice.sensors' })]);
    await waitFor(() => dlq.attempts >= 2, { timeoutMs: 10_000, intervalMs: 10 });
    dlq.down = false;
    await processing;
    expect(dlq.attempts).toBeGreaterThan(1);
    expect(dlq.entries).toHaveLength(1);
  });

  it('routes blob chunks to the blob store, completes the blob on its closing envelope, dead-letters what fails', async () => {
    const blobs: BlobChunk[] = [];
    const completed: string[] = [];
    const { pipeline, pg, dlq } = setup({ blobs, completed });
    cleanup.push(() => pipeline.close());
    const sha = 'b'.repeat(64);
    const chunk = message(Buffer.from('chunk-bytes'), { topic: 'sluice.sensors', offset: 5n });
    chunk.headers = { [KAFKA_HEADERS.contentType]: CONTENT_TYPES.blobChunk, [KAFKA_HEADERS.dataset]: 'sensors', [KAFKA_HEADERS.blobSha256]: sha, [KAFKA_HEADERS.blobChunk]: '0', [KAFKA_HEADERS.blobChunks]: '1' };
    const broken = message(Buffer.from('x'), { topic: 'sluice.sensors', offset: 6n });
    broken.headers = { [KAFKA_HEADERS.contentType]: CONTENT_TYPES.blobChunk };
    const blob = { key: 'f.bin', size: 11, sha256: sha, contentType: 'application/octet-stream', chunks: 1 };
    const closing = message(envelope('sensors', 'file-1', { device: 'cam' }, { blob }), { offset: 7n });
    const mismatch = message(envelope('sensors', 'file-2', { device: 'cam' }, { blob: { ...blob, sha256: 'c'.repeat(64) } }), { offset: 8n });
    await pipeline.process([chunk, broken, closing, mismatch]);
    expect(blobs).toEqual([expect.objectContaining({ sha256: sha, index: 0, count: 1 })]);
    expect(Buffer.from(blobs[0]!.bytes).toString()).toBe('chunk-bytes');
    expect(completed).toEqual(['file-1']);
    expect([...pg.records.keys()]).toEqual(['file-1']);
    expect(dlq.entries.map((e) => [e.offset, e.reason])).toEqual([
      [6n, 'blob chunk without valid blob-sha256 / blob-chunk / blob-chunks headers'],
      [8n, 'blob could not be assembled: sha256 mismatch: got 00ff'],
    ]);
  });

  it('runs the intake of overlapping batches in order, so a closing envelope finds the chunks of the batch before', async () => {
    const stored = new Set<string>();
    const sha = 'b'.repeat(64);
    const pipeline = new Pipeline({
      datasets: { latest: () => Promise.resolve(sensors) },
      validators: new ValidatorCache(),
      sinks: new SinkRegistry().register('postgres', new MemorySink('postgres')),
      deadLetters: new MemoryDeadLetters(),
      metrics: new ControlPlaneMetrics(),
      logger: createLogger('test', { level: 'silent' }),
      blobs: {
        writeChunk: async (chunk) => {
          await new Promise((r) => setTimeout(r, 50));
          stored.add(`${chunk.sha256}/${chunk.index}`);
          return ok;
        },
        complete: (e) => Promise.resolve(stored.has(`${e.blob!.sha256}/0`) ? ok : failed('missing chunk 0')),
      },
    });
    cleanup.push(() => pipeline.close());
    const chunk = message(Buffer.from('bytes'), { topic: 'sluice.sensors', offset: 1n });
    chunk.headers = { [KAFKA_HEADERS.contentType]: CONTENT_TYPES.blobChunk, [KAFKA_HEADERS.blobSha256]: sha, [KAFKA_HEADERS.blobChunk]: '0', [KAFKA_HEADERS.blobChunks]: '1' };
    const closing = message(envelope('sensors', 'file', { device: 'cam' }, { blob: { key: 'f', size: 5, sha256: sha, contentType: 'x', chunks: 1 } }), { offset: 2n });
    const [first, second] = await Promise.all([pipeline.process([chunk]), pipeline.process([closing])]);
    expect(first.counts.size).toBe(0);
    expect(second.counts.get('sensors')).toEqual({ ingested: 1, failed: 0 });
  });
});

describe('utf8Text', () => {
  it('answers as a fatal TextDecoder does', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const reference = (bytes: Buffer): string | undefined => {
      try {
        return decoder.decode(bytes);
      } catch {
        return undefined;
      }
    };
    const samples = [
      Buffer.from('{"a":1}'),
      Buffer.from('\ufeff{"a":1}'),
      Buffer.from('\ufeff\ufeffx'),
      Buffer.from('é€😀'),
      Buffer.alloc(0),
      Buffer.from([0xef, 0xbb]),
      Buffer.from([0xc3]),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from([0xf4, 0x90, 0x80, 0x80]),
      Buffer.from([0x61, 0x00, 0x62]),
      Buffer.from([0xff, 0x7b]),
    ];
    for (const bytes of samples) expect([bytes.toString('hex'), utf8Text(bytes)]).toEqual([bytes.toString('hex'), reference(bytes)]);
  });
});

describe('highestOffsets', () => {
  it('keeps the highest offset per topic partition, whatever the order', () => {
    const at = (topic: string, partition: number, offset: bigint) => message('{}', { topic, partition, offset });
    const messages = [at('t', 0, 5n), at('t', 0, 3n), at('t', 1, 1n), at('u', 0, 2n), at('t', 0, 9n), at('t', 1, 0n)];
    expect(highestOffsets(messages)).toEqual([
      { topic: 't', partition: 0, offset: 9n },
      { topic: 't', partition: 1, offset: 1n },
      { topic: 'u', partition: 0, offset: 2n },
    ]);
  });
});
