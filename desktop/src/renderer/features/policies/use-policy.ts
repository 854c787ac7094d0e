/**
 * What the policy page shows, refreshed while it is open: faster while a rollout is under way, so its
 * progress is live.
 */
import { listAgents, type AgentSummary } from '../../api/agents.ts';
import { getPolicy, getRevision, getRollout, listPolicyRollouts, listRevisions, type PolicyView, type RevisionSummary, type RevisionView, type RolloutView } from '../../api/policies.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const POLICY_REFRESH_MS = 10_000;
export const ROLLOUT_REFRESH_MS = 2_000;

export interface PolicyData {
  policy: PolicyView;
  revisions: RevisionSummary[];
  current: RevisionView | null;
}

export function usePolicy(name: string): Resource<PolicyData> {
  const client = useClient();
  return useResource(
    async () => {
      const [policy, revisions] = await Promise.all([getPolicy(client, name), listRevisions(client, name)]);
      const current = policy.currentRevision === null ? null : await getRevision(client, name, policy.currentRevision);
      return { policy, revisions, current };
    },
    [client, name],
    { refreshMs: POLICY_REFRESH_MS },
  );
}

/**
 * The policy's rollouts, newest first, the latest with its agents and waves (the list leaves them out), and
 * the agents the policy's selector picks (their apply reports are the rollout's progress; none until the
 * selector is known).
 */
export function useRollouts(name: string, selector: Record<string, string> | undefined, live: boolean): Resource<{ rollouts: RolloutView[]; agents: AgentSummary[] }> {
  const client = useClient();
  const label = selector === undefined ? undefined : Object.entries(selector).map(([k, v]) => `${k}:${v}`);
  return useResource(
    async () => {
      const [rollouts, agents] = await Promise.all([listPolicyRollouts(client, name), label === undefined ? [] : listAgents(client, { label })]);
      const [latest, ...earlier] = rollouts;
      return { rollouts: latest === undefined ? [] : [await getRollout(client, latest.id), ...earlier], agents };
    },
    [client, name, label?.join('\n')],
    { refreshMs: live ? ROLLOUT_REFRESH_MS : POLICY_REFRESH_MS },
  );
}
