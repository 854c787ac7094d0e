-- Up Migration
-- Enrolled agents and how they enrolled. Secrets (enrollment tokens, agent credentials) are stored only as
-- their sha256: both are 32 random bytes, so a fast hash is enough and lets a lookup use an index.
CREATE TABLE enrollment_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  labels jsonb NOT NULL DEFAULT '{}',
  expires_at timestamptz NOT NULL,
  max_uses integer NOT NULL CHECK (max_uses > 0),
  -- Counted under the row lock of the enroll transaction, so concurrent enrolls never pass max_uses.
  uses integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
  revoked_at timestamptz,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
  id text PRIMARY KEY,
  name text NOT NULL,
  labels jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  credential_hash text NOT NULL UNIQUE,
  -- The current session (agent-identity.ts): a presented counter above this starts a new one; equal with
  -- another nonce is a second instance of the same identity (a cloned image), refused.
  instance_counter bigint NOT NULL,
  instance_nonce text NOT NULL,
  hostname text NOT NULL,
  version text NOT NULL,
  enrollment_token_id text REFERENCES enrollment_tokens (id),
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  -- Written by the batched check-in writer (checkin-writer.ts).
  last_seen_at timestamptz,
  reported_hash text,
  apply_state text CHECK (apply_state IN ('applying', 'applied', 'failed', 'rolled-back')),
  -- The hash the apply state is about: for failed / rolled-back, the revision that failed (reported_hash is
  -- then the last good one the agent went back to).
  apply_hash text,
  apply_reason text,
  health jsonb,
  allowed_roots jsonb NOT NULL DEFAULT '[]',
  -- Written only by the policy assignment and rollouts (fleet/assignment.ts, rollout-*.ts).
  desired_revision_id bigint
);
CREATE INDEX agents_labels ON agents USING gin (labels jsonb_path_ops);
CREATE INDEX agents_desired_revision ON agents (desired_revision_id);

-- Bounded history (checkin-writer.ts keeps the newest rows per agent): a row when the config hash or apply
-- state changed, otherwise at most one per SLUICE_CHECKIN_HISTORY_SECONDS.
CREATE TABLE agent_checkins (
  id bigserial PRIMARY KEY,
  agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  config_hash text,
  apply_state text,
  apply_hash text,
  apply_reason text,
  health jsonb
);
CREATE INDEX agent_checkins_agent_at ON agent_checkins (agent_id, at DESC, id DESC);

-- Records shipped by an agent per dataset and minute of ingest time, as the agent counts them. The agent
-- sends cumulative values, so an upsert keeps the larger (a late or repeated report never lowers a count).
CREATE TABLE ledger_edge (
  agent_id text NOT NULL,
  dataset text NOT NULL,
  minute timestamptz NOT NULL,
  shipped bigint NOT NULL CHECK (shipped >= 0),
  PRIMARY KEY (agent_id, dataset, minute)
);
CREATE INDEX ledger_edge_minute ON ledger_edge (minute, dataset);

-- Down Migration
DROP TABLE ledger_edge;
DROP TABLE agent_checkins;
DROP TABLE agents;
DROP TABLE enrollment_tokens;
