/** Every policy with its latest rollout, refreshed every 10 s while the page is shown. */
import { listPolicies, listPolicyRollouts, type PolicyView, type RolloutView } from '../../api/policies.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const POLICIES_REFRESH_MS = 10_000;

export interface PolicyRow {
  policy: PolicyView;
  latestRollout: RolloutView | undefined;
}

export function usePolicies(): Resource<PolicyRow[]> {
  const client = useClient();
  return useResource(
    async () => {
      const policies = await listPolicies(client);
      const rollouts = await Promise.all(policies.map((p) => listPolicyRollouts(client, p.name)));
      return policies.map((policy, i) => ({ policy, latestRollout: rollouts[i]?.[0] }));
    },
    [client],
    { refreshMs: POLICIES_REFRESH_MS },
  );
}
