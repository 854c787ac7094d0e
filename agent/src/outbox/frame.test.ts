import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CODEC, decodeFrame, encodeFrame, type FrameMessage } from './frame.ts';

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
});
