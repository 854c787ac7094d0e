/**
 * Lake partition statistics (docs/lake.md): one `lake_segments` row per live object, keyed by bucket and
 * object key. Segment keys are functions of partition and first Kafka offset, so a replayed segment upserts
 * its own row (never a second one) and a removed object removes its row: a partition's files, records and
 * bytes are the sums over its rows and always equal what the store holds once a write has succeeded.
 */
import type pg from 'pg';

export interface SegmentStat {
  key: string;
  dataset: string;
  /** The partition's path below the dataset prefix, e.g. `dt=2026-03-01/hour=10`. */
  partition: string;
  format?: string;
  records: number;
  bytes: number;
  minEventTime?: string | undefined;
  maxEventTime?: string | undefined;
  firstOffset?: bigint;
  lastOffset?: bigint;
}

export interface PartitionRow {
  dataset: string;
  partition: string;
  files: number;
  records: number;
  bytes: number;
  minEventTime: string | null;
  maxEventTime: string | null;
  lastWrite: string;
}

const UPSERT = `
INSERT INTO lake_segments (bucket, key, dataset, partition, format, records, bytes, min_event_time, max_event_time, first_offset, last_offset, written_at)
SELECT $1, s.key, s.dataset, s.partition, s.format, s.records, s.bytes, s.min_event_time, s.max_event_time, s.first_offset, s.last_offset, now()
  FROM jsonb_to_recordset($2::jsonb) AS s(key text, dataset text, partition text, format text, records bigint, bytes bigint,
       min_event_time timestamptz, max_event_time timestamptz, first_offset bigint, last_offset bigint)
ON CONFLICT (bucket, key) DO UPDATE SET records = EXCLUDED.records, bytes = EXCLUDED.bytes, format = EXCLUDED.format,
  min_event_time = EXCLUDED.min_event_time, max_event_time = EXCLUDED.max_event_time,
  first_offset = EXCLUDED.first_offset, last_offset = EXCLUDED.last_offset, written_at = now()`;

export class PartitionStats {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;

  constructor(options: { pool: pg.Pool; ownsPool?: boolean }) {
    this.#pool = options.pool;
    this.#ownsPool = options.ownsPool ?? false;
  }

  /** Idempotent: the same segment recorded twice is one row with the latest figures. */
  async record(bucket: string, segments: readonly SegmentStat[]): Promise<void> {
    if (segments.length === 0) return;
    const rows = segments.map((s) => ({
      key: s.key,
      dataset: s.dataset,
      partition: s.partition,
      format: s.format ?? 'ndjson.gz',
      records: s.records,
      bytes: s.bytes,
      min_event_time: s.minEventTime ?? null,
      max_event_time: s.maxEventTime ?? null,
      first_offset: s.firstOffset === undefined ? null : s.firstOffset.toString(),
      last_offset: s.lastOffset === undefined ? null : s.lastOffset.toString(),
    }));
    await this.#pool.query(UPSERT, [bucket, JSON.stringify(rows)]);
  }

  async remove(bucket: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#pool.query('DELETE FROM lake_segments WHERE bucket = $1 AND key = ANY($2::text[])', [bucket, keys]);
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}

export interface PartitionQuery {
  dataset: string;
  bucket?: string;
  /** Partitions whose path starts with this, e.g. `dt=2026-03-01`. */
  prefix?: string;
  /** Keyset pagination: partitions after this path. */
  after?: string;
  limit?: number;
}

/** A dataset's partitions with their statistics, in path order. */
export async function listPartitions(pool: Pick<pg.Pool, 'query'>, q: PartitionQuery): Promise<PartitionRow[]> {
  const { rows } = await pool.query<{
    dataset: string; partition: string; files: string; records: string; bytes: string;
    min_event_time: Date | null; max_event_time: Date | null; last_write: Date;
  }>(
    `SELECT dataset, partition, count(*) AS files, sum(records) AS records, sum(bytes) AS bytes,
            min(min_event_time) AS min_event_time, max(max_event_time) AS max_event_time, max(written_at) AS last_write
       FROM lake_segments
      WHERE dataset = $1 AND ($2::text IS NULL OR bucket = $2) AND ($3::text IS NULL OR starts_with(partition, $3))
        AND ($4::text IS NULL OR partition > $4)
      GROUP BY dataset, partition ORDER BY partition LIMIT $5`,
    [q.dataset, q.bucket ?? null, q.prefix ?? null, q.after ?? null, Math.min(Math.max(q.limit ?? 100, 1), 1000)],
  );
  return rows.map((r) => ({
    dataset: r.dataset,
    partition: r.partition,
    files: Number(r.files),
    records: Number(r.records),
    bytes: Number(r.bytes),
    minEventTime: r.min_event_time?.toISOString() ?? null,
    maxEventTime: r.max_event_time?.toISOString() ?? null,
    lastWrite: r.last_write.toISOString(),
  }));
}
