import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PARTITION_BATCH_BYTES } from '@sluice/shared/node/kafka';
import { CODEC, decodeBatches, decodeFrame, encodeFrame, frameMessages, type FrameMessage } from './frame.ts';

const headersA = Object.freeze({ dataset: 'a', 'content-type': 'application/json' });

describe('frame codec', () => {
  it('round-trips topics, keys, string and byte values and header sets', () => {
    const messages: FrameMessage[] = [
      { topic: 'sluice.a', key: 'agent:src:f:ü€:0', value: '{"message":"héllo \\u2028 ✓"}', headers: headersA },
      { topic: 'sluice.b', key: Buffer.from('k2'), value: Buffer.from([0, 255, 10, 13]), headers: { dataset: 'b' }, keyed: true },
      { topic: 'sluice.a', key: '', value: '', headers: headersA },
    ];
    const frame = encodeFrame(messages);
    const decoded = decodeFrame(frame.body, frame.codec);
    expect(decoded.map((m) => ({ ...m, key: m.key.toString(), value: m.value.toString('latin1') }))).toEqual(
      messages.map(({ keyed, ...m }) => ({ ...m, key: m.key.toString(), value: Buffer.from(m.value).toString('latin1'), spread: keyed !== true })),
    );
    expect(frame.payloadBytes).toBe(messages.reduce((a, m) => a + Buffer.byteLength(m.key) + Buffer.byteLength(m.value), 0));
  });

  it('compresses what is worth it and stores small frames raw', () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ topic: 't', key: `k${i}`, value: `{"id":"agent:src:f:0123456789abcdef:${i * 200}","payload":"same text"}`, headers: headersA }));
    const big = encodeFrame(many);
    expect(big.codec).toBe(CODEC.zstd);
    expect(big.body.length).toBeLessThan(big.payloadBytes / 5);
    expect(decodeFrame(big.body, big.codec).map((m) => m.key.toString())).toEqual(many.map((m) => m.key));
    const small = encodeFrame([{ topic: 't', key: 'k', value: 'v', headers: {} }]);
    expect(small.codec).toBe(CODEC.raw);
    const noise = randomBytes(100_000);
    const random = encodeFrame([{ topic: 't', key: 'k', value: noise, headers: {} }]);
    expect(decodeFrame(random.body, random.codec)[0]!.value.equals(noise)).toBe(true);
  });

  it('decodes the same with a size estimate that fits, falls short or is far too large', () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ topic: 't', key: `k${i}`, value: `{"offset":${i * 200},"payload":"line ${i % 97}"}`, headers: headersA }));
    const frame = encodeFrame(many);
    const keys = many.map((m) => m.key);
    for (const payloadBytes of [frame.payloadBytes, 1, frame.payloadBytes * 10]) {
      expect(decodeFrame(frame.body, frame.codec, { records: many.length, payloadBytes }).map((m) => m.key.toString())).toEqual(keys);
    }
  });

  it('stores one topic and headers set as record batches, each under the partition limit, other frames as before', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ topic: 't', key: `k${i}`, value: randomBytes(60).toString('hex'), headers: headersA }));
    const frame = encodeFrame(many, 'lz4');
    expect(frame.codec).toBe(CODEC.batches);
    expect(frame.payloadBytes).toBe(many.reduce((a, m) => a + m.key.length + m.value.length, 0));
    const batches = decodeBatches(frame.body);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.every((b) => b.data.length <= PARTITION_BATCH_BYTES && b.topic === 't' && b.compression === 'lz4')).toBe(true);
    expect(batches.reduce((a, b) => a + b.records, 0)).toBe(many.length);
    expect(batches[0]!.headers).toEqual(headersA);
    expect(frameMessages(frame.body, frame.codec).map((m) => [m.key.toString(), m.value.toString(), m.spread])).toEqual(many.map((m) => [m.key, m.value, true]));
    // A partition key, a second topic or other headers: one batch could not carry them, so the frame stays messages.
    expect(encodeFrame([many[0]!, { ...many[1]!, keyed: true }], 'lz4').codec).not.toBe(CODEC.batches);
    expect(encodeFrame([many[0]!, { ...many[1]!, topic: 'u' }], 'lz4').codec).not.toBe(CODEC.batches);
    expect(encodeFrame([many[0]!, { ...many[1]!, headers: { dataset: 'b' } }], 'lz4').codec).not.toBe(CODEC.batches);
    expect(encodeFrame(many.slice(0, 2)).codec).not.toBe(CODEC.batches);
  });
});
