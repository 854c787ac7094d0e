-- Up Migration
-- What users may change about a lake table (docs/lake.md), next to the dataset it is: a description, the
-- compaction settings, and a soft delete (the table leaves GET /api/v1/tables; its data and dataset stay).
CREATE TABLE lake_tables (
  dataset text PRIMARY KEY,
  description text,
  compaction jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);

-- Down Migration
DROP TABLE lake_tables;
