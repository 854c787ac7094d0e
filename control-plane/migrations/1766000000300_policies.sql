-- Up Migration
-- Policies: a pipeline config (agent sources) assigned to agents by labels, published as immutable
-- revisions, moved to agents by rollouts (fleet/policy-store.ts, assignment.ts, rollout-engine.ts).
CREATE TABLE policies (
  name text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  -- {"labels": {"k": "v"}}: an agent is selected when it carries every one of these labels.
  selector jsonb NOT NULL DEFAULT '{"labels": {}}',
  -- Several policies selecting one agent: the highest priority wins, ties by name.
  priority integer NOT NULL DEFAULT 0,
  current_revision_id bigint,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policy_revisions (
  id bigserial PRIMARY KEY,
  policy text NOT NULL REFERENCES policies (name),
  number integer NOT NULL CHECK (number > 0),
  -- The defaulted pipeline, exactly what agents receive; hash = configHash(config).
  config jsonb NOT NULL,
  hash text NOT NULL,
  message text NOT NULL DEFAULT '',
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (policy, number)
);
ALTER TABLE policies ADD FOREIGN KEY (current_revision_id) REFERENCES policy_revisions (id);

-- A revision is what agents ran: changing it would make the audit log, diffs and agents' hashes lie.
CREATE FUNCTION policy_revisions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'policy_revisions rows are immutable (policy %, revision %)', OLD.policy, OLD.number;
END;
$$;
CREATE TRIGGER policy_revisions_no_change BEFORE UPDATE OR DELETE ON policy_revisions
  FOR EACH ROW EXECUTE FUNCTION policy_revisions_immutable();

CREATE TABLE rollouts (
  id bigserial PRIMARY KEY,
  policy text NOT NULL REFERENCES policies (name),
  from_revision_id bigint REFERENCES policy_revisions (id),
  to_revision_id bigint NOT NULL REFERENCES policy_revisions (id),
  strategy jsonb NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'running', 'paused', 'completed', 'rolling-back', 'rolled-back', 'aborted')),
  -- The wave opened last (0 = canaries), -1 before the first; wave_count waves in all.
  wave integer NOT NULL DEFAULT -1,
  wave_count integer NOT NULL,
  phase text NOT NULL DEFAULT 'applying' CHECK (phase IN ('applying', 'soaking')),
  -- When the current phase's clock started: wave opened, soak began, resumed, rollback began.
  wave_started_at timestamptz NOT NULL DEFAULT now(),
  gate_report jsonb,
  reason text,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
-- One rollout at a time owns a policy's agents.
CREATE UNIQUE INDEX rollouts_one_active ON rollouts (policy) WHERE state IN ('pending', 'running', 'paused', 'rolling-back');
CREATE INDEX rollouts_policy ON rollouts (policy, id DESC);

-- The agents a rollout moves, fixed when it starts, each in its wave.
CREATE TABLE rollout_agents (
  rollout_id bigint NOT NULL REFERENCES rollouts (id),
  agent_id text NOT NULL,
  wave integer NOT NULL,
  -- Its shipping rates, breakers and outbox when its wave opened (fleet/rollout-gate.ts AgentBaseline).
  baseline jsonb,
  -- Its health snapshot when the wave's soak began.
  soak_start jsonb,
  PRIMARY KEY (rollout_id, agent_id)
);
CREATE INDEX rollout_agents_wave ON rollout_agents (rollout_id, wave);

-- Down Migration
DROP TABLE rollout_agents;
DROP TABLE rollouts;
ALTER TABLE policies DROP CONSTRAINT IF EXISTS policies_current_revision_id_fkey;
DROP TABLE policy_revisions;
DROP FUNCTION policy_revisions_immutable();
DROP TABLE policies;
