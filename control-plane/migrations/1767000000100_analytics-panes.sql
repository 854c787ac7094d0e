-- Up Migration
-- Windowed aggregates (docs/analytics.md). One row per dataset × aggregation (name + definition hash) ×
-- minute of event time × group: the pane. Rows are folded in by the PostgreSQL sink in the transaction that
-- inserts them, counting only the rows its INSERT … ON CONFLICT DO NOTHING reported new; longer windows are
-- merged from panes when queried. `state` holds the measures (count/sum/min/max, DDSketch buckets) and the
-- HyperLogLog registers as JSON. Partitioned by day of pane_start so retention drops whole partitions; the
-- default partition holds days no partition was made for yet.
CREATE TABLE analytics_panes (
  dataset text NOT NULL,
  aggregation text NOT NULL,
  definition text NOT NULL,
  pane_start timestamptz NOT NULL,
  group_key text COLLATE "C" NOT NULL,
  group_values jsonb NOT NULL DEFAULT '{}',
  rows bigint NOT NULL DEFAULT 0,
  -- Rows folded after the pane was final (the watermark had passed its end plus the grace).
  late_rows bigint NOT NULL DEFAULT 0,
  state jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, aggregation, definition, pane_start, group_key)
) PARTITION BY RANGE (pane_start);
CREATE TABLE analytics_panes_default PARTITION OF analytics_panes DEFAULT;

-- Datasets with aggregations but without the PostgreSQL sink: the ids already folded, so a replayed or
-- re-sent record is not counted twice. Pruned after the retention of the panes it fed.
CREATE TABLE analytics_seen_ids (
  dataset text NOT NULL,
  id text COLLATE "C" NOT NULL,
  seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, id)
);
CREATE INDEX analytics_seen_ids_seen_at ON analytics_seen_ids (seen_at);

-- Down Migration
DROP TABLE analytics_seen_ids;
DROP TABLE analytics_panes;
