/** The fleet's agents, refreshed every 10 s while the page is shown. */
import { listAgents, type AgentSummary } from '../../api/agents.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const FLEET_REFRESH_MS = 10_000;

export function useAgents(): Resource<AgentSummary[]> {
  const client = useClient();
  return useResource(() => listAgents(client), [client], { refreshMs: FLEET_REFRESH_MS });
}
