/**
 * A dataset's lake partition spec, read from `sinks.objectStore` (partitionBy, hash, range), as the object
 * keys it produces and as Iceberg-style transforms (docs/lake.md), so the layout could be registered in a
 * table format later without rewriting data.
 */
import type { DatasetSpec } from '@sluice/shared/dataset';

export interface PartitionField {
  /** The key segment's name: `dt`, `hour`, `bucket`, `range`. */
  name: string;
  /** Where the value comes from: `eventTime` (the envelope's, falling back to ingestTime), or a payload field. */
  source: string;
  /** Iceberg transform: `day`, `hour`, `bucket[N]`, `truncate[W]`, or `void` when none expresses it. */
  transform: string;
  /** Key pattern of this level. */
  key: string;
  bounds?: number[];
}

export function partitionFields(spec: DatasetSpec): PartitionField[] {
  const os = spec.sinks.objectStore;
  if (!os?.enabled) return [];
  const fields: PartitionField[] = [{ name: 'dt', source: 'eventTime', transform: 'day', key: 'dt=YYYY-MM-DD' }];
  if ((os.partitionBy ?? 'hour') === 'hour') fields.push({ name: 'hour', source: 'eventTime', transform: 'hour', key: 'hour=HH' });
  if (os.hash) fields.push({ name: 'bucket', source: os.hash.field, transform: `bucket[${os.hash.buckets}]`, key: 'bucket=<fnv1a(JSON(value)) mod N>' });
  if (os.range) {
    const bounds = [...os.range.bounds].sort((a, b) => a - b);
    fields.push({ name: 'range', source: os.range.field, transform: truncateWidth(bounds), key: 'range=<lo>_<hi> | lt_<first> | ge_<last> | null', bounds });
  }
  return fields;
}

/**
 * Iceberg's `truncate[W]` of a number is `v - (v mod W)`: it equals a range spec only when the bounds are
 * evenly spaced by W from a multiple of W (and values outside the bounds are accepted as their own ranges).
 */
function truncateWidth(bounds: readonly number[]): string {
  if (bounds.length < 2) return 'void';
  const width = bounds[1]! - bounds[0]!;
  const even = Number.isInteger(width) && width > 0 && bounds.every((b, i) => Number.isInteger(b) && b === bounds[0]! + i * width) && bounds[0]! % width === 0;
  return even ? `truncate[${width}]` : 'void';
}
