-- Up Migration
-- Unqualified names: the runner sets search_path to the configured state schema (default `sluice`), so
-- tests can migrate a schema of their own.

CREATE TABLE datasets (
  name text PRIMARY KEY,
  spec jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dataset_versions (
  dataset text NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
  version integer NOT NULL CHECK (version >= 1),
  schema jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset, version)
);

-- A schema version, once published, is what records were validated against: it never changes.
CREATE FUNCTION dataset_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'dataset_versions rows are immutable (dataset %, version %)', OLD.dataset, OLD.version;
END;
$$;
CREATE TRIGGER dataset_versions_no_update BEFORE UPDATE ON dataset_versions
  FOR EACH ROW EXECUTE FUNCTION dataset_versions_immutable();

CREATE TABLE dlq (
  id bigserial PRIMARY KEY,
  dataset text,
  record_id text,
  topic text NOT NULL,
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  reason text NOT NULL,
  schema_version integer,
  original bytea NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  replayed_at timestamptz,
  -- A redelivered message (consumer crash before commit) dead-letters once.
  CONSTRAINT dlq_position UNIQUE (topic, partition, "offset")
);
CREATE INDEX dlq_dataset_id ON dlq (dataset, id DESC);

CREATE TABLE ingest_counts (
  dataset text NOT NULL,
  minute timestamptz NOT NULL,
  ingested bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (dataset, minute)
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  key_hash text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Down Migration
DROP TABLE api_keys;
DROP TABLE ingest_counts;
DROP TABLE dlq;
DROP TABLE dataset_versions;
DROP FUNCTION dataset_versions_immutable();
DROP TABLE datasets;
