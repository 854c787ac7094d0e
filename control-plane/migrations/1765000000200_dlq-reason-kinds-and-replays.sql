-- Up Migration
-- DLQ reasons quote the record ("unknown dataset x", "does not match ... at /a/b"), so counting by reason
-- text gives one row per record. reason_kind is the class the consumer gives each reason when it writes
-- the entry (control-plane/src/consumer/dead-letters.ts `reasonKind`); the UPDATE below gives entries
-- written before this migration the same classes, by the same prefixes.
ALTER TABLE dlq ADD COLUMN reason_kind text NOT NULL DEFAULT 'other';
UPDATE dlq SET reason_kind = CASE
  WHEN reason LIKE 'unknown dataset %' THEN 'unknown_dataset'
  WHEN reason LIKE 'could not be parsed at the source%' THEN 'parse'
  WHEN reason LIKE 'does not match schema version %' THEN 'schema'
  WHEN reason LIKE 'not a Sluice envelope%' THEN 'not_envelope'
  WHEN reason LIKE 'record is % bytes, larger than the limit%' THEN 'size'
  WHEN reason LIKE 'refused before any store%' THEN 'unstorable'
  WHEN reason LIKE 'sink %' THEN 'sink'
  WHEN reason LIKE 'blob %' OR reason LIKE 'record carries a blob%' THEN 'blob'
  ELSE 'other'
END;
CREATE INDEX dlq_reason_kind ON dlq (reason_kind, dataset);

-- Every replay of a DLQ entry: when, by which API key, and where the replayed copy landed. dlq.replayed_at
-- stays the time of the latest one (what the list shows).
CREATE TABLE dlq_replays (
  id bigserial PRIMARY KEY,
  dlq_id bigint NOT NULL REFERENCES dlq (id) ON DELETE CASCADE,
  replayed_at timestamptz NOT NULL DEFAULT now(),
  key_id text NOT NULL,
  key_name text NOT NULL,
  forced boolean NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  "offset" bigint NOT NULL
);
CREATE INDEX dlq_replays_entry ON dlq_replays (dlq_id, id);

-- Down Migration
DROP TABLE dlq_replays;
DROP INDEX dlq_reason_kind;
ALTER TABLE dlq DROP COLUMN reason_kind;
