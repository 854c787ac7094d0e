-- Up Migration
-- Event-time progress per stream (dataset × agent × source) of the datasets that aggregate, written by the pane
-- fold in the rows' own transaction (analytics/pane-store.ts): the newest event time and ingest time loaded;
-- and, written by the check-in writer, the time an agent last reported the source idle after its last committed
-- records had been loaded. The slowest stream makes the dataset's watermark (analytics/finality.ts).
CREATE TABLE analytics_watermarks (
  dataset text NOT NULL,
  agent_id text COLLATE "C" NOT NULL,
  source_id text COLLATE "C" NOT NULL,
  max_event_time timestamptz NOT NULL,
  max_ingest_time timestamptz NOT NULL,
  idle_through timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, agent_id, source_id)
);

-- Down Migration
DROP TABLE analytics_watermarks;
