/**
 * Kafka record batches (message format v2) built ahead of the send, so that a batch is encoded and compressed
 * once, when it is written (the agent's outbox stores it so), not by the client at every send and retry.
 *
 * A v2 batch is a 61-byte header and its records, compressed together. The records do not depend on the
 * partition, the producer id or the sequence: `encodeRecordBatch` builds and compresses them (each record's
 * timestamp delta is 0 and its offset delta its index), and `batchBytes` puts the header in front at send time
 * (producer id, epoch, first sequence, the timestamp of the send, the CRC-32C). Format:
 * https://kafka.apache.org/documentation/#recordbatch
 */
import { compressionsAlgorithms, compressionsAlgorithmsByBitmask, crc32c } from '@platformatic/kafka';

/** The producer codecs a record batch may be compressed with (Kafka's names). */
export type Compression = 'none' | 'gzip' | 'lz4' | 'zstd' | 'snappy';

/** A record batch's compressed records, ready to be sent to any partition of `topic`. */
export interface RecordBatch {
  topic: string;
  /** The headers every record carries (encoded in `data` already; metrics read the dataset from them). */
  headers: Readonly<Record<string, string>>;
  records: number;
  /** The records' bytes before compression. */
  bytes: number;
  compression: Compression;
  /** The encoded records, compressed. */
  data: Buffer;
}

export interface BatchRecord {
  key: string | Buffer;
  value: string | Buffer;
}

const HEADER_BYTES = 61;
/** Bytes from the start of the batch to the attributes: where the CRC's range starts. */
const CRC_FROM = 21;
const MAGIC = 2;

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/** UTF-8 bytes of a string, or a buffer's length. */
export function byteLength(data: string | Buffer): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

const headerBlocks = new WeakMap<object, Buffer>();
/** The headers part of a record (count, then each key and value), the same for every record: built once per object. */
function headerBlock(headers: Readonly<Record<string, string>>): Buffer {
  let block = headerBlocks.get(headers);
  if (block === undefined) {
    const entries = Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
    let size = varintBytes(zigzag(entries.length));
    for (const [k, v] of entries) size += varintBytes(zigzag(k.length)) + k.length + varintBytes(zigzag(v.length)) + v.length;
    block = Buffer.allocUnsafe(size);
    let at = writeVarint(block, 0, zigzag(entries.length));
    for (const [k, v] of entries) {
      at = writeVarint(block, at, zigzag(k.length));
      at += k.copy(block, at);
      at = writeVarint(block, at, zigzag(v.length));
      at += v.copy(block, at);
    }
    headerBlocks.set(headers, block);
  }
  return block;
}

/** Encodes the records (each with `headers`) into one buffer and compresses it: one batch's worth. */
export function encodeRecordBatch(topic: string, headers: Readonly<Record<string, string>>, records: readonly BatchRecord[], compression: Compression): RecordBatch {
  const block = headerBlock(headers);
  const keyBytes = new Uint32Array(records.length);
  const valueBytes = new Uint32Array(records.length);
  const bodyBytes = new Uint32Array(records.length);
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const k = (keyBytes[i] = byteLength(r.key));
    const v = (valueBytes[i] = byteLength(r.value));
    // attributes, timestamp delta (0), offset delta, key, value, headers
    const body = 2 + varintBytes(zigzag(i)) + varintBytes(zigzag(k)) + k + varintBytes(zigzag(v)) + v + block.length;
    bodyBytes[i] = body;
    size += varintBytes(zigzag(body)) + body;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    at = writeVarint(out, at, zigzag(bodyBytes[i]!));
    out[at++] = 0;
    out[at++] = 0;
    at = writeVarint(out, at, zigzag(i));
    at = writeVarint(out, at, zigzag(keyBytes[i]!));
    at += typeof r.key === 'string' ? out.write(r.key, at) : r.key.copy(out, at);
    at = writeVarint(out, at, zigzag(valueBytes[i]!));
    at += typeof r.value === 'string' ? out.write(r.value, at) : r.value.copy(out, at);
    at += block.copy(out, at);
  }
  const data = compression === 'none' ? out : compressionsAlgorithms[compression].compressSync(out);
  return { topic, headers, records: records.length, bytes: size, compression, data };
}

/** The batch's bytes as they go on the wire, for one producer id, epoch and first sequence. */
export function batchBytes(batch: RecordBatch, producer: { producerId: bigint; producerEpoch: number; firstSequence: number; timestamp: bigint; transactional?: boolean }): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + batch.data.length);
  out.writeBigInt64BE(0n, 0); // base offset: the broker assigns it
  out.writeInt32BE(HEADER_BYTES - 12 + batch.data.length, 8); // length of what follows
  out.writeInt32BE(0, 12); // partition leader epoch
  out.writeInt8(MAGIC, 16);
  out.writeInt16BE(compressionsAlgorithms[batch.compression].bitmask | (producer.transactional === true ? 1 << 4 : 0), CRC_FROM);
  out.writeInt32BE(batch.records - 1, 23); // last offset delta
  out.writeBigInt64BE(producer.timestamp, 27); // first timestamp
  out.writeBigInt64BE(producer.timestamp, 35); // max timestamp
  out.writeBigInt64BE(producer.producerId, 43);
  out.writeInt16BE(producer.producerEpoch, 51);
  out.writeInt32BE(producer.firstSequence, 53);
  out.writeInt32BE(batch.records, 57);
  batch.data.copy(out, HEADER_BYTES);
  out.writeUInt32BE(crc32c(out.subarray(CRC_FROM)) >>> 0, 17);
  return out;
}

function readVarint(buf: Buffer, at: number): [number, number] {
  let n = 0;
  let scale = 1;
  for (;;) {
    const b = buf[at++]!;
    n += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  return [n % 2 === 0 ? n / 2 : -(n + 1) / 2, at];
}

/** The keys and values of a batch's records (headers are the batch's), e.g. to read an outbox frame back. */
export function decodeRecordBatch(batch: RecordBatch): Array<{ key: Buffer; value: Buffer }> {
  const bitmask = compressionsAlgorithms[batch.compression].bitmask as keyof typeof compressionsAlgorithmsByBitmask;
  const buf = batch.compression === 'none' ? batch.data : compressionsAlgorithmsByBitmask[bitmask]!.decompressSync(batch.data);
  const out: Array<{ key: Buffer; value: Buffer }> = [];
  let at = 0;
  while (at < buf.length) {
    let length: number;
    [length, at] = readVarint(buf, at);
    const end = at + length;
    at += 1; // attributes
    [, at] = readVarint(buf, at); // timestamp delta
    [, at] = readVarint(buf, at); // offset delta
    let keyLength: number;
    [keyLength, at] = readVarint(buf, at);
    const key = buf.subarray(at, at + Math.max(keyLength, 0));
    at += Math.max(keyLength, 0);
    let valueLength: number;
    [valueLength, at] = readVarint(buf, at);
    out.push({ key, value: buf.subarray(at, at + valueLength) });
    at = end;
  }
  return out;
}

/** A batch's records as single messages to `topic` (spread over partitions), e.g. to send them without the batch. */
export function batchMessages(batch: RecordBatch): Array<{ topic: string; key: Buffer; value: Buffer; headers: Readonly<Record<string, string>>; spread: true }> {
  return decodeRecordBatch(batch).map((r) => ({ topic: batch.topic, key: r.key, value: r.value, headers: batch.headers, spread: true }));
}
