-- Up Migration
-- The ledger (GET /api/v1/ledger) compares what each agent shipped per dataset and minute of the records'
-- ingest time (ledger_edge, from check-ins) with what each store holds for that agent and minute. The stores
-- are counted where they are: PostgreSQL tables and search indices by their own agent_id / ingestTime; the
-- object store through its id ledger, and dead-lettered records through the dlq table. Those two tables get the
-- record's agent and ingest minute here, filled by the consumer when the record's envelope could be decoded
-- (NULL for entries written before this migration, and for bytes that were no envelope at all).
ALTER TABLE dlq ADD COLUMN agent_id text, ADD COLUMN ingest_minute timestamptz;
CREATE INDEX dlq_ledger ON dlq (ingest_minute, agent_id, dataset) WHERE ingest_minute IS NOT NULL;
-- Pipeline health counts dead-lettered records per minute of when they were dead-lettered.
CREATE INDEX dlq_created_at ON dlq (created_at);

ALTER TABLE object_store_ids ADD COLUMN agent_id text, ADD COLUMN ingest_minute timestamptz;
CREATE INDEX object_store_ids_ledger ON object_store_ids (store, dataset, ingest_minute, agent_id) WHERE ingest_minute IS NOT NULL;

-- Per dataset, sink and minute (when it happened): writes that did not succeed (an outage, retried) and
-- records the sink refused (dead-lettered). Flushed by the consumer with ingest_counts, about once a second.
CREATE TABLE sink_error_counts (
  dataset text NOT NULL,
  sink text NOT NULL,
  minute timestamptz NOT NULL,
  failed_writes bigint NOT NULL DEFAULT 0,
  rejected bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (dataset, sink, minute)
);

-- Down Migration
DROP TABLE sink_error_counts;
DROP INDEX object_store_ids_ledger;
ALTER TABLE object_store_ids DROP COLUMN ingest_minute, DROP COLUMN agent_id;
DROP INDEX dlq_created_at;
DROP INDEX dlq_ledger;
ALTER TABLE dlq DROP COLUMN ingest_minute, DROP COLUMN agent_id;
