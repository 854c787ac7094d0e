-- Up Migration
-- Transforms and quality rules travel with each schema version (docs/transforms.md): a version is the schema
-- records are validated against, the transforms applied before and the rules judged after.
ALTER TABLE dataset_versions ADD COLUMN transforms jsonb NOT NULL DEFAULT '[]', ADD COLUMN rules jsonb NOT NULL DEFAULT '[]';

-- Lookup tables for the `lookup` transform: key → JSON value, replaced whole by PUT /api/v1/lookups/{name}.
CREATE TABLE lookup_tables (
  name text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  rows integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE lookup_rows (
  lookup text NOT NULL REFERENCES lookup_tables (name) ON DELETE CASCADE,
  key text COLLATE "C" NOT NULL,
  value jsonb NOT NULL,
  PRIMARY KEY (lookup, key)
);

-- Outcomes of the quality rules per dataset, rule and minute of ingest (counted when the consumer judged the
-- records: a batch judged again after a crash counts again), and the newest offending records per rule.
CREATE TABLE quality_counts (
  dataset text NOT NULL,
  rule text NOT NULL,
  minute timestamptz NOT NULL,
  pass bigint NOT NULL DEFAULT 0,
  warn bigint NOT NULL DEFAULT 0,
  fail bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (dataset, rule, minute)
);
CREATE TABLE quality_samples (
  id bigserial PRIMARY KEY,
  dataset text NOT NULL,
  rule text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  record_id text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('warn', 'fail')),
  reason text NOT NULL,
  value jsonb
);
CREATE INDEX quality_samples_rule ON quality_samples (dataset, rule, id DESC);

-- Down Migration
DROP TABLE quality_samples;
DROP TABLE quality_counts;
DROP TABLE lookup_rows;
DROP TABLE lookup_tables;
ALTER TABLE dataset_versions DROP COLUMN rules, DROP COLUMN transforms;
