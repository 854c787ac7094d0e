/**
 * Which policy revision each agent should run: the one place that writes agents.desired_revision_id
 * (besides a rollout's waves, which go through `reassignAgents` too, so both agree). An agent runs the
 * policy whose selector its labels match (every selector label equal), the highest priority winning, ties
 * by name; of that policy, the revision its active rollout gave it if it is in an opened wave, else the
 * policy's current revision. A policy without a revision selects nobody. Every change notifies
 * 'desired-changed' in the same transaction, so check-ins on every process learn it on commit.
 */
import type pg from 'pg';
import { notifyFleet } from './fleet-events.ts';

export interface PolicyChoice {
  name: string;
  priority: number;
  selector: { labels?: Record<string, string> | undefined };
  currentRevisionId: number | null;
}

export function selects(policy: Pick<PolicyChoice, 'selector'>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(policy.selector.labels ?? {}).every(([key, value]) => labels[key] === value);
}

/** The policy that wins an agent with these labels, among policies that have a revision. */
export function choosePolicy(policies: readonly PolicyChoice[], labels: Readonly<Record<string, string>>): PolicyChoice | undefined {
  let best: PolicyChoice | undefined;
  for (const policy of policies) {
    if (policy.currentRevisionId === null || !selects(policy, labels)) continue;
    if (best === undefined || policy.priority > best.priority || (policy.priority === best.priority && policy.name < best.name)) best = policy;
  }
  return best;
}

export async function loadPolicies(client: pg.ClientBase): Promise<PolicyChoice[]> {
  const found = await client.query<{ name: string; priority: number; selector: PolicyChoice['selector']; current_revision_id: string | null }>(
    'SELECT name, priority, selector, current_revision_id FROM policies',
  );
  return found.rows.map((r) => ({ name: r.name, priority: r.priority, selector: r.selector, currentRevisionId: r.current_revision_id === null ? null : Number(r.current_revision_id) }));
}

/**
 * Recomputes the desired revision of the given agents (all active agents when omitted) and writes those
 * that changed; answers their ids.
 */
export async function reassignAgents(client: pg.ClientBase, agentIds?: readonly string[]): Promise<string[]> {
  const policies = await loadPolicies(client);
  const agents = await client.query<{ id: string; labels: Record<string, string>; desired_revision_id: string | null }>(
    `SELECT id, labels, desired_revision_id FROM agents WHERE status = 'active' ${agentIds === undefined ? '' : 'AND id = ANY($1::text[])'}`,
    agentIds === undefined ? [] : [agentIds],
  );
  // Agents in an opened wave of a rollout that still holds them run its target.
  const opened = await client.query<{ agent_id: string; policy: string; to_revision_id: string }>(
    `SELECT ra.agent_id, r.policy, r.to_revision_id FROM rollout_agents ra JOIN rollouts r ON r.id = ra.rollout_id
     WHERE r.state IN ('running', 'paused') AND ra.wave <= r.wave ${agentIds === undefined ? '' : 'AND ra.agent_id = ANY($1::text[])'}`,
    agentIds === undefined ? [] : [agentIds],
  );
  const inWave = new Map(opened.rows.map((r) => [r.agent_id, r]));
  const ids: string[] = [];
  const revisions: (number | null)[] = [];
  for (const agent of agents.rows) {
    const policy = choosePolicy(policies, agent.labels);
    const wave = inWave.get(agent.id);
    const desired = policy === undefined ? null : wave !== undefined && wave.policy === policy.name ? Number(wave.to_revision_id) : policy.currentRevisionId;
    const stored = agent.desired_revision_id === null ? null : Number(agent.desired_revision_id);
    if (desired !== stored) {
      ids.push(agent.id);
      revisions.push(desired);
    }
  }
  if (ids.length === 0) return [];
  await client.query(
    `UPDATE agents a SET desired_revision_id = u.revision FROM unnest($1::text[], $2::bigint[]) AS u(id, revision) WHERE a.id = u.id`,
    [ids, revisions],
  );
  await notifyFleet(client, { kind: 'desired-changed', agentIds: ids });
  return ids;
}

/** Inside the enroll transaction: gives a new agent its policy's current revision at once. */
export async function assignNewAgent(client: pg.ClientBase, agentId: string, _labels: Record<string, string>): Promise<void> {
  await reassignAgents(client, [agentId]);
}

/** Inside the transaction that changed the agent's labels: moves it to the policy that now selects it. */
export async function reassignAgent(client: pg.ClientBase, agentId: string): Promise<void> {
  await reassignAgents(client, [agentId]);
}

/** The same as assignNewAgent, by the name the fleet contract gives it. */
export async function onAgentEnrolled(client: pg.ClientBase, agentId: string): Promise<void> {
  await reassignAgents(client, [agentId]);
}
