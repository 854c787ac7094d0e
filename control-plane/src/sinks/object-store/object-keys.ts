/**
 * Object keys for NDJSON segments. A key is a function of the records' time partition and the Kafka position
 * of the segment's first record (topic, partition, offset), never of the wall clock nor of where the batch
 * happened to end. After a crash the consumer re-reads from its committed offset, so a replayed segment starts
 * at the same offset and overwrites the object it wrote before, whether the new batch ends earlier or later;
 * records past a shorter replay land in the next segment's own key. The offset range stays in the object's
 * metadata. Offsets are zero-padded to 20 digits (an int64 has at
 * most 19) so a listing sorts in offset order.
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { SinkBatch, SinkRecord } from '../sink.ts';

export interface Segment {
  key: string;
  /** `<dir>/part-<topic>-<partition>-`: the keys of this topic partition's segments in the same folder. */
  keyPrefix: string;
  /** The partition's path below the dataset prefix (`dt=…[/hour=…][/bucket=n]`), for partition statistics. */
  partition: string;
  records: SinkRecord[];
  firstOffset: bigint;
  lastOffset: bigint;
}

export function padOffset(offset: bigint): string {
  return offset.toString().padStart(20, '0');
}

export function objectPrefix(dataset: DatasetVersion): string {
  return (dataset.spec.sinks.objectStore?.prefix ?? dataset.spec.name).replace(/\/+$/, '');
}

/** `dt=YYYY-MM-DD[/hour=HH]` of the UTC time; undefined when `time` is not a date. */
export function timePartition(time: string, by: 'day' | 'hour'): string | undefined {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return by === 'day' ? `dt=${iso.slice(0, 10)}` : `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

/** FNV-1a (32 bit): stable across processes and versions, unlike anything seeded. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** `bucket=<fnv1a(JSON of the field's value) mod buckets>`; a missing field hashes as null. */
export function hashBucket(payload: unknown, field: string, buckets: number): string {
  const value = fieldValue(payload, field);
  return `bucket=${fnv1a(JSON.stringify(value ?? null)) % buckets}`;
}

function fieldValue(payload: unknown, field: string): unknown {
  let value: unknown = payload;
  for (const part of field.split('.')) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value;
}

/**
 * `range=<lo>_<hi>` (lo ≤ value < hi) of a numeric field against ascending bounds; `range=lt_<first>` below
 * the first, `range=ge_<last>` from the last; `range=null` when the field is missing or not a finite number.
 */
export function rangePartition(payload: unknown, field: string, bounds: readonly number[]): string {
  const value = fieldValue(payload, field);
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'range=null';
  const sorted = [...bounds].sort((a, b) => a - b);
  if (value < sorted[0]!) return `range=lt_${sorted[0]}`;
  for (let i = sorted.length - 1; i >= 0; i--) {
    if (value >= sorted[i]!) return i === sorted.length - 1 ? `range=ge_${sorted[i]}` : `range=${sorted[i]}_${sorted[i + 1]}`;
  }
  return 'range=null';
}

/** Topic names may hold characters that are awkward in keys; keep them readable and unambiguous. */
function keySafe(topic: string): string {
  return topic.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The first offset a segment key names (keys sort by it: offsets are zero-padded). */
export function firstOffsetOfKey(key: string, keyPrefix: string): bigint | undefined {
  const digits = key.slice(keyPrefix.length, keyPrefix.length + 20);
  return /^\d{20}$/.test(digits) ? BigInt(digits) : undefined;
}

/**
 * Splits a batch into one segment per time partition (and hash bucket), each keyed
 * `<prefix>/dt=…[/hour=…][/bucket=n][/range=lo_hi]/part-<topic>-<partition>-<first offset>.ndjson.gz`. Records whose event and ingest times are both unreadable go to `rejected`.
 */
export function segmentBatch(batch: SinkBatch): { segments: Segment[]; rejected: Array<{ id: string; reason: string }> } {
  const spec = batch.dataset.spec.sinks.objectStore;
  const by = spec?.partitionBy === 'day' ? 'day' : 'hour';
  const prefix = objectPrefix(batch.dataset);
  const groups = new Map<string, SinkRecord[]>();
  const rejected: Array<{ id: string; reason: string }> = [];
  for (const record of batch.records) {
    const time = timePartition(record.envelope.eventTime, by) ?? timePartition(record.envelope.ingestTime, by);
    if (time === undefined) {
      rejected.push({ id: record.envelope.id, reason: `object-store: neither eventTime nor ingestTime is a date (${JSON.stringify(record.envelope.eventTime)})` });
      continue;
    }
    let dir = spec?.hash ? `${time}/${hashBucket(record.envelope.payload, spec.hash.field, spec.hash.buckets)}` : time;
    if (spec?.range) dir = `${dir}/${rangePartition(record.envelope.payload, spec.range.field, spec.range.bounds)}`;
    const group = groups.get(dir);
    if (group) group.push(record);
    else groups.set(dir, [record]);
  }
  const segments: Segment[] = [];
  for (const [dir, records] of groups) {
    let first = records[0]!.offset;
    let last = first;
    for (const r of records) {
      if (r.offset < first) first = r.offset;
      if (r.offset > last) last = r.offset;
    }
    const keyPrefix = `${prefix}/${dir}/part-${keySafe(batch.topic)}-${batch.partition}-`;
    segments.push({ key: `${keyPrefix}${padOffset(first)}.ndjson.gz`, keyPrefix, partition: dir, records, firstOffset: first, lastOffset: last });
  }
  return { segments, rejected };
}

/**
 * The segments without `records`, keys unchanged: a key stays a function of the batch's cut, so a replay
 * overwrites what an earlier attempt wrote there even when the ledger now leaves other records out.
 */
export function leaveOut(segments: readonly Segment[], records: ReadonlySet<SinkRecord>): Segment[] {
  return segments.map((s) => ({ ...s, records: s.records.filter((r) => !records.has(r)) }));
}
