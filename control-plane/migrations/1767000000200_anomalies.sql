-- Up Migration
-- Anomalies found on final panes (docs/analytics.md, "Anomalies"). The key is derived, never random: dataset,
-- series (kind + key) and the start of the pane that opened it, so evaluating the same panes again updates
-- the same row instead of adding one. `window_end` is the end of the last pane found out of band; an open
-- anomaly resolves once the series stayed within its band for the dataset's resolveAfterPanes panes.
CREATE TABLE anomalies (
  dataset text NOT NULL,
  -- volume | agent_volume | group_volume | measure | silence | agent_silence | group_silence
  series_kind text NOT NULL,
  -- '' for the dataset's own volume and silence; the agent id; `aggregation|group key` for a group; `aggregation|field|stat|group key` for measures
  series_key text COLLATE "C" NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  -- high | low (outside the band) or silent (nothing arrived)
  direction text NOT NULL,
  -- The value of the most anomalous pane (highest score) and what the baseline expected there.
  observed double precision NOT NULL,
  expected double precision NOT NULL,
  band_low double precision NOT NULL,
  band_high double precision NOT NULL,
  -- |observed - expected| / scale (robust z-score); silence: the number of silent panes.
  score double precision NOT NULL,
  state text NOT NULL CHECK (state IN ('open', 'resolved')),
  opened_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, series_kind, series_key, window_start)
);
CREATE INDEX anomalies_dataset_window ON anomalies (dataset, window_start DESC);
CREATE INDEX anomalies_open ON anomalies (dataset) WHERE state = 'open';

-- Up to where each dataset's panes were evaluated (exclusive): the detector carries on from here, in the
-- same transaction as the anomalies it wrote. [agents_from, agents_before): the minutes counted into
-- anomaly_agent_minutes.
CREATE TABLE anomaly_progress (
  dataset text PRIMARY KEY,
  evaluated_before timestamptz NOT NULL,
  agents_from timestamptz,
  agents_before timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Rows per agent and final minute of event time of a dataset's PostgreSQL table (panes have no agent), counted
-- once per minute when it is final, so the per-agent series never scan the table's history again. Kept for
-- the seasonal baseline's day and a little more; the detector deletes older minutes.
CREATE TABLE anomaly_agent_minutes (
  dataset text NOT NULL,
  minute timestamptz NOT NULL,
  agent_id text COLLATE "C" NOT NULL,
  rows bigint NOT NULL,
  PRIMARY KEY (dataset, minute, agent_id)
);

-- Down Migration
DROP TABLE anomaly_agent_minutes;
DROP TABLE anomaly_progress;
DROP TABLE anomalies;
