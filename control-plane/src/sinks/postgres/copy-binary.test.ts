import { describe, expect, it } from 'vitest';
import { CopyBinaryWriter, parseTimestamp } from './copy-binary.ts';

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** The timestamptz field the writer produces for `text`, as microseconds since 2000, or undefined. */
function timestampField(text: string): bigint | undefined {
  const out = new CopyBinaryWriter(64);
  out.row(1);
  if (!out.timestamptz(text)) return undefined;
  const data = out.finish();
  expect(data.readInt32BE(21)).toBe(8);
  return data.readBigInt64BE(25);
}

describe('CopyBinaryWriter', () => {
  it('frames rows with the signature, field counts, lengths and the trailer', () => {
    const out = new CopyBinaryWriter(64);
    out.row(3);
    out.text('ab');
    out.null();
    out.int4(-7);
    const data = out.finish();
    expect(data.subarray(0, 11)).toEqual(Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'));
    expect(data.readInt32BE(11)).toBe(0);
    expect(data.readInt32BE(15)).toBe(0);
    expect(data.readInt16BE(19)).toBe(3);
    expect(data.readInt32BE(21)).toBe(2);
    expect(data.subarray(25, 27).toString()).toBe('ab');
    expect(data.readInt32BE(27)).toBe(-1);
    expect(data.readInt32BE(31)).toBe(4);
    expect(data.readInt32BE(35)).toBe(-7);
    expect(data.readInt16BE(39)).toBe(-1);
    expect(data.length).toBe(41);
  });

  it('grows past its initial size, including for multi-byte text', () => {
    const out = new CopyBinaryWriter(64);
    const long = 'é€'.repeat(10_000);
    out.row(2);
    out.text(long);
    out.jsonb(JSON.stringify({ long }));
    const data = out.finish();
    const textBytes = data.readInt32BE(21);
    expect(data.subarray(25, 25 + textBytes).toString()).toBe(long);
    const json = data.subarray(25 + textBytes);
    expect(json[4]).toBe(1);
    expect(JSON.parse(json.subarray(5, 4 + json.readInt32BE(0)).toString())).toEqual({ long });
  });

  it('writes int8 halves exactly for any safe integer', () => {
    for (const n of [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 32 + 5, -(2 ** 32) - 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 123_456_789_012]) {
      const out = new CopyBinaryWriter(64);
      out.row(1);
      out.int8(n);
      expect(out.finish().readBigInt64BE(25)).toBe(BigInt(n));
    }
  });

  it('converts RFC 3339 timestamps to the instant PostgreSQL stores, before and after 2000', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let k = 0; k < 20_000; k++) {
      // Years 0100–9999 (Date cannot say 0001–0099 as ISO text without help), millisecond precision.
      const ms = Date.UTC(100, 0, 1) + Math.floor(random() * (Date.UTC(9999, 11, 31) - Date.UTC(100, 0, 1)));
      const iso = new Date(ms).toISOString();
      expect(timestampField(iso)).toBe(BigInt(ms - PG_EPOCH_MS) * 1000n);
      const zoneMinutes = Math.floor(random() * (16 * 60)) * (random() < 0.5 ? -1 : 1);
      const local = new Date(ms + zoneMinutes * 60_000).toISOString().slice(0, -1);
      const zone = `${zoneMinutes < 0 ? '-' : '+'}${String(Math.floor(Math.abs(zoneMinutes) / 60)).padStart(2, '0')}:${String(Math.abs(zoneMinutes) % 60).padStart(2, '0')}`;
      expect(timestampField(`${local}${zone}`)).toBe(BigInt(ms - PG_EPOCH_MS) * 1000n);
    }
    expect(timestampField('2000-01-01T00:00:00.000001Z')).toBe(1n);
    expect(timestampField('1999-12-31T23:59:59.999999Z')).toBe(-1n);
    expect(timestampField('0001-01-01T00:00:00Z')).toBe(-63_082_281_600_000_000n);
    expect(timestampField('9999-12-31T23:59:59.999999Z')).toBe(252_455_615_999_999_999n);
  });

  it('leaves every other spelling to the server', () => {
    for (const text of [
      '2026-03-01 10:00:00Z',
      '2026-03-01t10:00:00Z',
      '2026-03-01T10:00:00z',
      '2026-03-01T10:00:00+0100',
      '2026-03-01T10:00:00+01',
      '2026-03-01T10:00:00+16:00',
      '2026-03-01T10:00:00',
      '2026-03-01T10:00:00.1234567Z',
      '2026-03-01T10:00:00.Z',
      '2026-12-31T23:59:60Z',
      '2026-02-29T10:00:00Z',
      '0000-01-01T00:00:00Z',
      '2026-03-01T10:00:00Z ',
    ]) {
      expect([text, parseTimestamp(text)]).toEqual([text, undefined]);
    }
  });
});
