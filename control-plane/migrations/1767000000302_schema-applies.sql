-- Up Migration
-- What POST /api/v1/schema/versions/{id}/apply did, per dataset version (the latest row is in force).
CREATE TABLE schema_applies (
  id bigserial PRIMARY KEY,
  dataset text NOT NULL,
  version integer NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL,
  result jsonb NOT NULL,
  parquet_schema jsonb NOT NULL
);
CREATE INDEX schema_applies_dataset ON schema_applies (dataset, id DESC);

-- Down Migration
DROP TABLE schema_applies;
