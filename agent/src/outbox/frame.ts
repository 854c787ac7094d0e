/**
 * The outbox stores a commit's messages as frames: one SQLite row holds many messages, encoded in one
 * buffer and compressed with zstd. One row per message made SQLite's per-row cost (B-tree insert, later
 * delete) the agent's bottleneck at ~50k lines/s; a frame costs one insert and one delete for thousands of
 * messages, and zstd shrinks the repetitive envelope JSON (same ids prefix, dataset, path, times) several
 * fold, so the disk writes a fraction of the bytes.
 *
 * A frame of one topic and headers set without partition keys (the file source's commits) is instead stored
 * as Kafka record batches (CODEC.batches, encodeBatchFrame): the records are encoded and compressed with the
 * producer's codec once, here, and the shipper sends those bytes as they are, so neither zstd nor the Kafka
 * client's per-record encoding runs for them.
 *
 * Layout before compression (all integers little-endian):
 *   u32 count · u16 topics · (u16 len, utf8)* · u16 headerSets · (u32 len, headers JSON)*
 *   index: (u16 topic, u16 headerSet, u8 flags, u32 keyBytes, u32 valueBytes) × count   flags: 1 = keyed
 *   data:  (key utf8, value bytes) × count
 */
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { PARTITION_BATCH_BYTES, type Compression } from '@sluice/shared/node/kafka';
import { batchMessages, byteLength, encodeRecordBatch, type RecordBatch } from '@sluice/shared/node/kafka-record-batch';

/** What a frame carries per message. Strings are written as UTF-8 without an extra copy. */
export interface FrameMessage {
  topic: string;
  /** The record id, or a configured partition key's value (then `keyed`). Comes back as bytes. */
  key: string | Buffer;
  /** The encoded envelope (or a blob chunk). */
  value: Buffer | string;
  /** Share one (frozen) object per dataset: its JSON is computed once, not per message. */
  headers: Readonly<Record<string, string>>;
  /** The key is a partition key (per-key ordering), not the record id. */
  keyed?: boolean;
}

export interface DecodedMessage {
  topic: string;
  /** Key and value are views into the decoded frame. */
  key: Buffer;
  value: Buffer;
  headers: Readonly<Record<string, string>>;
  /** Not keyed: the key is the record id and any partition will do (see KafkaProducer). */
  spread: boolean;
}

/** `batches`: the frame is Kafka record batches, built and compressed once, sent as they are (see encodeFrame). */
export const CODEC = { raw: 0, zstd: 1, batches: 2 } as const;
export type Codec = (typeof CODEC)[keyof typeof CODEC];

/** Below this, compressing costs more than it saves. */
const COMPRESS_FROM_BYTES = 512;
const INDEX_ENTRY_BYTES = 13;
const FLAG_KEYED = 1;
const ZSTD_LEVEL = { [constants.ZSTD_c_compressionLevel]: 1 };
/**
 * Slack over a frame's payload bytes for its index and tables when sizing the decompression buffer. zlib's
 * one-shot calls write into chunks of `chunkSize` (16 KiB by default) and concatenate them at the end: for a
 * 4 MiB frame that is hundreds of chunks and a copy, five times the cost of decompressing into one buffer of
 * the right size. An estimate that falls short only costs another chunk.
 */
const TABLE_SLACK_BYTES = 64 * 1024;

export interface EncodedFrame {
  body: Buffer;
  codec: Codec;
  /** Bytes of keys and values before compression: what the outbox's byte bound counts. */
  payloadBytes: number;
}

/** The bytes of keys and values `encodeFrame` will count as the frame's `payloadBytes`, without encoding anything. */
export function payloadBytesOf(messages: readonly FrameMessage[]): number {
  let bytes = 0;
  for (const m of messages) bytes += byteLength(m.key) + byteLength(m.value);
  return bytes;
}

/**
 * With `batches` (the producer's compression), a frame whose messages all go to one topic with one headers
 * object and no partition key is stored as Kafka record batches (kafka-record-batch.ts): the records are
 * encoded and compressed here, once, and the shipper sends those bytes as they are. A batch whose compressed
 * records exceed the broker's per-partition limit is cut in halves. Other frames use the layout above.
 */
export function encodeFrame(messages: readonly FrameMessage[], batches?: Compression): EncodedFrame {
  if (batches !== undefined && messages.length > 0 && asBatches(messages)) return encodeBatchFrame(messages, batches);
  const topics = new Indexer<string>();
  const headerSets = new Indexer<string>();
  const topicIdx = new Uint16Array(messages.length);
  const headersIdx = new Uint16Array(messages.length);
  const keyBytes = new Uint32Array(messages.length);
  const valueBytes = new Uint32Array(messages.length);
  let payloadBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    topicIdx[i] = topics.indexOf(m.topic);
    headersIdx[i] = headerSets.indexOf(headersJson(m.headers));
    keyBytes[i] = byteLength(m.key);
    valueBytes[i] = byteLength(m.value);
    payloadBytes += keyBytes[i]! + valueBytes[i]!;
  }
  const topicBuffers = topics.values.map((t) => Buffer.from(t));
  const headerBuffers = headerSets.values.map((h) => Buffer.from(h));
  const tableBytes = 4 + 2 + topicBuffers.reduce((a, b) => a + 2 + b.length, 0) + 2 + headerBuffers.reduce((a, b) => a + 4 + b.length, 0);
  const out = Buffer.allocUnsafe(tableBytes + messages.length * INDEX_ENTRY_BYTES + payloadBytes);
  let at = out.writeUInt32LE(messages.length, 0);
  at = out.writeUInt16LE(topicBuffers.length, at);
  for (const b of topicBuffers) {
    at = out.writeUInt16LE(b.length, at);
    at += b.copy(out, at);
  }
  at = out.writeUInt16LE(headerBuffers.length, at);
  for (const b of headerBuffers) {
    at = out.writeUInt32LE(b.length, at);
    at += b.copy(out, at);
  }
  for (let i = 0; i < messages.length; i++) {
    at = out.writeUInt16LE(topicIdx[i]!, at);
    at = out.writeUInt16LE(headersIdx[i]!, at);
    at = out.writeUInt8(messages[i]!.keyed === true ? FLAG_KEYED : 0, at);
    at = out.writeUInt32LE(keyBytes[i]!, at);
    at = out.writeUInt32LE(valueBytes[i]!, at);
  }
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    at += typeof m.key === 'string' ? out.write(m.key, at) : m.key.copy(out, at);
    at += typeof m.value === 'string' ? out.write(m.value, at) : m.value.copy(out, at);
  }
  if (out.length < COMPRESS_FROM_BYTES) return { body: out, codec: CODEC.raw, payloadBytes };
  // One output chunk as large as the input (zstd never needs more for text) avoids the chunk list and its concat.
  return { body: zstdCompressSync(out, { chunkSize: Math.max(out.length, 64 * 1024), params: ZSTD_LEVEL }), codec: CODEC.zstd, payloadBytes };
}

function asBatches(messages: readonly FrameMessage[]): boolean {
  const { topic, headers } = messages[0]!;
  const json = headersJson(headers);
  for (const m of messages) {
    if (m.keyed === true || m.topic !== topic || (m.headers !== headers && headersJson(m.headers) !== json)) return false;
  }
  return true;
}

const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** u16 topic length · topic · u32 headers length · headers JSON · u8 compression · u16 batches · (u32 records, u32 bytes, u32 length, data)* */
function encodeBatchFrame(messages: readonly FrameMessage[], compression: Compression): EncodedFrame {
  const { topic, headers } = messages[0]!;
  const built: RecordBatch[] = [];
  const build = (from: number, to: number): void => {
    const batch = encodeRecordBatch(topic, headers, from === 0 && to === messages.length ? messages : messages.slice(from, to), compression);
    if (batch.data.length <= PARTITION_BATCH_BYTES || to - from === 1) {
      built.push(batch);
      return;
    }
    const half = from + Math.ceil((to - from) / 2);
    build(from, half);
    build(half, to);
  };
  build(0, messages.length);
  const topicBytes = Buffer.from(topic);
  const headerBytes = Buffer.from(headersJson(headers));
  let size = 2 + topicBytes.length + 4 + headerBytes.length + 1 + 2;
  for (const b of built) size += 12 + b.data.length;
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt16LE(topicBytes.length, 0);
  at += topicBytes.copy(out, at);
  at = out.writeUInt32LE(headerBytes.length, at);
  at += headerBytes.copy(out, at);
  at = out.writeUInt8(COMPRESSIONS.indexOf(compression), at);
  at = out.writeUInt16LE(built.length, at);
  for (const b of built) {
    at = out.writeUInt32LE(b.records, at);
    at = out.writeUInt32LE(b.bytes, at);
    at = out.writeUInt32LE(b.data.length, at);
    at += b.data.copy(out, at);
  }
  return { body: out, codec: CODEC.batches, payloadBytes: payloadBytesOf(messages) };
}

/** The record batches of a frame stored as such (CODEC.batches); their data are views into `body`. */
export function decodeBatches(body: Buffer): RecordBatch[] {
  let at = 0;
  const topicLength = body.readUInt16LE(at);
  const topic = body.toString('utf8', at + 2, at + 2 + topicLength);
  at += 2 + topicLength;
  const headersLength = body.readUInt32LE(at);
  const headers = Object.freeze(JSON.parse(body.toString('utf8', at + 4, at + 4 + headersLength)) as Record<string, string>);
  at += 4 + headersLength;
  const compression = COMPRESSIONS[body.readUInt8(at)]!;
  const count = body.readUInt16LE(at + 1);
  at += 3;
  const out: RecordBatch[] = [];
  for (let i = 0; i < count; i++) {
    const records = body.readUInt32LE(at);
    const bytes = body.readUInt32LE(at + 4);
    const length = body.readUInt32LE(at + 8);
    at += 12;
    out.push({ topic, headers, records, bytes, compression, data: body.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/** A frame's messages one by one, whatever its codec (record batches are decoded). */
export function frameMessages(body: Buffer, codec: Codec, expected?: { records: number; payloadBytes: number }): DecodedMessage[] {
  if (codec !== CODEC.batches) return decodeFrame(body, codec, expected);
  return decodeBatches(body).flatMap(batchMessages);
}

/** `expected`: the frame's message count and payload bytes (stored beside it), to decompress into one buffer. */
export function decodeFrame(body: Buffer, codec: Codec, expected?: { records: number; payloadBytes: number }): DecodedMessage[] {
  const chunkSize = expected === undefined ? undefined : expected.payloadBytes + expected.records * INDEX_ENTRY_BYTES + TABLE_SLACK_BYTES;
  const buf = codec === CODEC.zstd ? zstdDecompressSync(body, chunkSize === undefined ? {} : { chunkSize }) : body;
  const count = buf.readUInt32LE(0);
  let at = 4;
  const topics: string[] = [];
  for (let n = buf.readUInt16LE(at), i = (at += 2, 0); i < n; i++) {
    const len = buf.readUInt16LE(at);
    topics.push(buf.toString('utf8', at + 2, at + 2 + len));
    at += 2 + len;
  }
  const headerSets: Array<Readonly<Record<string, string>>> = [];
  for (let n = buf.readUInt16LE(at), i = (at += 2, 0); i < n; i++) {
    const len = buf.readUInt32LE(at);
    headerSets.push(Object.freeze(JSON.parse(buf.toString('utf8', at + 4, at + 4 + len)) as Record<string, string>));
    at += 4 + len;
  }
  let data = at + count * INDEX_ENTRY_BYTES;
  const out = new Array<DecodedMessage>(count);
  for (let i = 0; i < count; i++, at += INDEX_ENTRY_BYTES) {
    const keyLen = buf.readUInt32LE(at + 5);
    const valueLen = buf.readUInt32LE(at + 9);
    const key = buf.subarray(data, data + keyLen);
    data += keyLen;
    out[i] = {
      topic: topics[buf.readUInt16LE(at)]!,
      key,
      value: buf.subarray(data, data + valueLen),
      headers: headerSets[buf.readUInt16LE(at + 2)]!,
      spread: (buf[at + 4]! & FLAG_KEYED) === 0,
    };
    data += valueLen;
  }
  return out;
}

/** Sources reuse one headers object per dataset, so its JSON is computed once, not per message. */
const headersCache = new WeakMap<object, string>();
export function headersJson(headers: Readonly<Record<string, string>>): string {
  let json = headersCache.get(headers);
  if (json === undefined) {
    json = JSON.stringify(headers);
    headersCache.set(headers, json);
  }
  return json;
}

/** Distinct values in first-seen order, each with its index. */
class Indexer<T> {
  readonly values: T[] = [];
  readonly #index = new Map<T, number>();
  #last: T | undefined;
  #lastIndex = -1;

  indexOf(value: T): number {
    if (value === this.#last) return this.#lastIndex;
    let i = this.#index.get(value);
    if (i === undefined) {
      if (this.values.length === 0xffff) throw new RangeError('a frame holds at most 65535 distinct topics or header sets');
      i = this.values.push(value) - 1;
      this.#index.set(value, i);
    }
    this.#last = value;
    this.#lastIndex = i;
    return i;
  }
}
