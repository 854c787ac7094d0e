/**
 * The envelope on the wire, v1 against v2 (docs/envelope.md), for tailed file lines: bytes per line as Kafka
 * carries them (key, value, headers, record framing; and lz4-compressed in batches of 1000), the agent's encode
 * time per line (the file source's encoder) and the consumer's decode time per record (header bytes to strings as
 * the Kafka wrapper makes them, UTF-8 check, JSON, checks, expansion: record-intake's decode). No stack needed.
 * Prints one JSON object.
 *   node bench/envelope.ts   (env: BENCH_LINES = lines per round, default 20000; BENCH_ROUNDS, default 15)
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { compressionsAlgorithms } from '@platformatic/kafka';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { routeFor } from '@sluice/agent/runtime/to-message';
import { FileEnvelopeEncoder } from '@sluice/agent/sources/file/file-envelopes';
import type { OutboxMessage } from '@sluice/agent/sources/source';
import { decodeEnvelope } from '@sluice/control-plane/consumer/envelope-decode';
import { utf8Text } from '@sluice/control-plane/consumer/record-intake';
import { benchLine } from './lib/file-to-kafka.ts';

const LINES = Number(process.env.BENCH_LINES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const LINE_BYTES = 200;
const WIRES = ['v1', 'v2'] as const;
type Wire = (typeof WIRES)[number];

const load = (): number[] => loadavg().map((n) => Math.round(n * 100) / 100);
const loadBefore = load();

const epochMs = Date.parse('2026-01-01T00:00:00Z');
const lines = Array.from({ length: LINES }, (_, i) => Buffer.from(benchLine(i, epochMs, LINE_BYTES).slice(0, -1)));
// As the file source sees a file: its identity (a 32-hex fingerprint) and path; records at their byte offsets.
const file = { uid: createHash('sha256').update('bench').digest('hex').slice(0, 32), path: '/var/log/sluice-bench/app.log' };
const records = lines.map((bytes, i) => ({ offset: 1_000_000_000 + i * LINE_BYTES, bytes }));
const now = new Date(epochMs).toISOString();

function encoder(wire: Wire): FileEnvelopeEncoder {
  return new FileEnvelopeEncoder({ agentId: 'bench', sourceId: 'tail', dataset: 'lines', format: 'text', route: routeFor('lines', 'bench', { topicPrefix: 'sluice.', wire }) });
}

function varintBytes(n: number): number {
  let zz = n * 2; // zigzag of a non-negative number
  let bytes = 1;
  while (zz >= 0x80) {
    zz = Math.floor(zz / 128);
    bytes++;
  }
  return bytes;
}

/** A record's bytes in a Kafka v2 record batch: framing varints, key, value, headers. */
function recordBytes(m: OutboxMessage, index: number): { key: number; value: number; headers: number; framing: number; total: number } {
  const key = Buffer.byteLength(m.key);
  const value = Buffer.byteLength(m.value);
  let headers = 0;
  let framing = 1 + 1 + varintBytes(index) + varintBytes(key) + varintBytes(value) + varintBytes(Object.keys(m.headers).length);
  for (const [k, v] of Object.entries(m.headers)) {
    headers += Buffer.byteLength(k) + Buffer.byteLength(v);
    framing += varintBytes(Buffer.byteLength(k)) + varintBytes(Buffer.byteLength(v));
  }
  const body = framing + key + value + headers;
  framing += varintBytes(body);
  return { key, value, headers, framing, total: body + varintBytes(body) };
}

/** lz4 bytes per record of the records laid out as in a batch (1000 per batch, as the agent's frames are). */
function lz4PerRecord(messages: readonly OutboxMessage[]): number {
  let compressed = 0;
  for (let from = 0; from < messages.length; from += 1000) {
    const parts: Buffer[] = [];
    for (const m of messages.slice(from, from + 1000)) {
      parts.push(Buffer.from(m.key), Buffer.from(m.value));
      for (const [k, v] of Object.entries(m.headers)) parts.push(Buffer.from(k), Buffer.from(v));
    }
    compressed += compressionsAlgorithms.lz4.compressSync(Buffer.concat(parts)).length;
  }
  return compressed / messages.length;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round1 = (n: number): number => Math.round(n * 10) / 10;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const messages = { v1: encoder('v1').encode(file, records, now), v2: encoder('v2').encode(file, records, now) };

function sizeOf(wire: Wire) {
  const per = messages[wire].map(recordBytes);
  const avg = (pick: (p: ReturnType<typeof recordBytes>) => number): number => round1(mean(per.map(pick)));
  return {
    key: avg((p) => p.key),
    value: avg((p) => p.value),
    headers: avg((p) => p.headers),
    headerCount: Object.keys(messages[wire][0]!.headers).length,
    framing: avg((p) => p.framing),
    total: avg((p) => p.total),
    lz4: round1(lz4PerRecord(messages[wire])),
  };
}
const size = { v1: sizeOf('v1'), v2: sizeOf('v2') };

interface Fetched {
  key: string;
  value: Buffer;
  rawHeaders: ReadonlyArray<readonly [Buffer, Buffer]>;
  offset: bigint;
}
// What the consumer holds per message: header names and values as bytes, turned into strings by the Kafka wrapper.
const fetched = (wire: Wire): Fetched[] =>
  messages[wire].map((m, i) => ({
    key: m.key.toString(),
    value: Buffer.from(m.value),
    rawHeaders: Object.entries(m.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const),
    offset: BigInt(i),
  }));
const incoming = { v1: fetched('v1'), v2: fetched('v2') };

let sink = 0;
function decodeRound(wire: Wire): number {
  const started = process.hrtime.bigint();
  for (const m of incoming[wire]) {
    const headers: Record<string, string> = {};
    for (const [k, v] of m.rawHeaders) headers[k.toString()] = v.toString();
    const message: IncomingMessage = { topic: 'sluice.lines', partition: 0, offset: m.offset, key: m.key, value: m.value, headers, timestamp: 0n };
    const decoded = decodeEnvelope(message, utf8Text(message.value)!);
    if ('reason' in decoded) throw new Error(`${wire} did not decode: ${decoded.reason}`);
    sink += decoded.envelope.id.length;
  }
  return Number(process.hrtime.bigint() - started) / LINES;
}

function encodeRound(wire: Wire): number {
  const enc = encoder(wire);
  const started = process.hrtime.bigint();
  for (let from = 0; from < LINES; from += 500) sink += enc.encode(file, records.slice(from, from + 500), now).length;
  return Number(process.hrtime.bigint() - started) / LINES;
}

// Alternating rounds (after a warm-up of each) so both see the same machine; the median of each is reported.
const times = { decode: { v1: [] as number[], v2: [] as number[] }, encode: { v1: [] as number[], v2: [] as number[] } };
for (let r = -3; r < ROUNDS; r++) {
  for (const wire of r % 2 === 0 ? WIRES : [...WIRES].reverse()) {
    const d = decodeRound(wire);
    const e = encodeRound(wire);
    if (r >= 0) {
      times.decode[wire].push(d);
      times.encode[wire].push(e);
    }
  }
}
const ns = (xs: readonly number[]): number => Math.round(median(xs));
const decode = { v1: ns(times.decode.v1), v2: ns(times.decode.v2) };
const encode = { v1: ns(times.encode.v1), v2: ns(times.encode.v2) };

console.log(
  JSON.stringify(
    {
      bench: 'envelope',
      input: { lines: LINES, lineBytes: LINE_BYTES, rounds: ROUNDS, node: process.version },
      load: { before: loadBefore, after: load() },
      bytesPerLine: { ...size, v2OverV1: Math.round((size.v2.total / size.v1.total) * 1000) / 1000, v2OverV1Lz4: Math.round((size.v2.lz4 / size.v1.lz4) * 1000) / 1000 },
      decodeNsPerRecord: { ...decode, v2OverV1: Math.round((decode.v2 / decode.v1) * 1000) / 1000 },
      encodeNsPerLine: { ...encode, v2OverV1: Math.round((encode.v2 / encode.v1) * 1000) / 1000 },
      check: sink > 0,
    },
    null,
    2,
  ),
);
