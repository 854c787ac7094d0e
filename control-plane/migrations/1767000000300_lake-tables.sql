-- Up Migration
-- Lake partition statistics (docs/lake.md). One row per object the object-store sink (or compaction) has
-- live in a partition, keyed by bucket and object key. A segment's key is a function of its partition and
-- the Kafka offset of its first record, so a replayed segment upserts its own row instead of adding one:
-- statistics never double count. A partition's statistics are the sums over its rows.
CREATE TABLE lake_segments (
  bucket text NOT NULL,
  key text NOT NULL,
  dataset text NOT NULL,
  -- The partition's path below the dataset's prefix, e.g. dt=2026-03-01/hour=10/bucket=3.
  partition text NOT NULL,
  format text NOT NULL DEFAULT 'ndjson.gz',
  records bigint NOT NULL,
  bytes bigint NOT NULL,
  min_event_time timestamptz,
  max_event_time timestamptz,
  first_offset bigint,
  last_offset bigint,
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket, key)
);
CREATE INDEX lake_segments_partition ON lake_segments (dataset, partition);

-- Down Migration
DROP TABLE lake_segments;
