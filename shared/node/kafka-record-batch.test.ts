import { createRecordsBatch, NumericMap, readRecordsBatch, Reader } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { batchBytes, decodeRecordBatch, encodeRecordBatch } from './kafka-record-batch.ts';

const headers = Object.freeze({ dataset: 'logs', envelope: '{"v":2}' });
const records = Array.from({ length: 300 }, (_, i) => ({ key: `agent:file:${i}`, value: i % 2 === 0 ? `{"line":${i},"text":"héllo"}` : Buffer.from(`{"line":${i}}`) }));

describe('record batches built ahead', () => {
  it("are byte for byte the client's own batch for the same records (uncompressed)", () => {
    const timestamp = 1_700_000_000_000n;
    const encodedHeaders = new Map(Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
    const messages = records.map((r) => ({ topic: 't', partition: 1, key: Buffer.from(r.key), value: Buffer.from(r.value), headers: encodedHeaders, timestamp }));
    const sequences = new NumericMap([['t:1', 600]]);
    const theirs = createRecordsBatch(messages, { producerId: 42n, producerEpoch: 3, sequences, compression: 'none' }).buffer;
    const ours = batchBytes(encodeRecordBatch('t', headers, records, 'none'), { producerId: 42n, producerEpoch: 3, firstSequence: 600, timestamp });
    expect(ours.equals(theirs)).toBe(true);
  });

  for (const compression of ['lz4', 'none', 'zstd', 'gzip', 'snappy'] as const) {
    it(`are read back by the client's own batch reader (${compression}), CRC and all`, () => {
      const batch = encodeRecordBatch('t', headers, records, compression);
      const bytes = batchBytes(batch, { producerId: 42n, producerEpoch: 3, firstSequence: 600, timestamp: 1_700_000_000_000n });
      const read = readRecordsBatch(Reader.from(bytes));
      expect([read.producerId, read.producerEpoch, read.firstSequence, read.lastOffsetDelta, read.firstTimestamp]).toEqual([42n, 3, 600, 299, 1_700_000_000_000n]);
      expect(read.length).toBe(bytes.length - 12);
      expect(read.records.map((r) => r.key?.toString())).toEqual(records.map((r) => r.key));
      expect(read.records.map((r) => r.value?.toString())).toEqual(records.map((r) => r.value.toString()));
      expect(read.records.map((r) => r.offsetDelta)).toEqual(records.map((_, i) => i));
      expect(read.records[7]!.headers.map(([k, v]) => [k?.toString(), v?.toString()])).toEqual(Object.entries(headers));
      expect(decodeRecordBatch(batch).map((r) => r.value.toString())).toEqual(records.map((r) => r.value.toString()));
    });
  }
});
