-- Up Migration
-- The object store's ledger of record ids: which Kafka position owns each record of a dataset in a bucket,
-- so a record that reaches the consumer twice at different offsets is written to one segment only
-- (see control-plane/src/sinks/object-store/id-ledger.ts for how rows and segments stay consistent).
CREATE TABLE object_store_ids (
  store text NOT NULL,
  dataset text NOT NULL,
  record_id text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store, dataset, record_id)
);
-- The retention job deletes the oldest rows first, a bounded chunk at a time.
CREATE INDEX object_store_ids_claimed_at ON object_store_ids (claimed_at);

-- Down Migration
DROP TABLE object_store_ids;
