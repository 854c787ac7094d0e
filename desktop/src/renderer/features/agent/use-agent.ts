/** One agent's detail (health, check-in history), refreshed every 5 s while shown. */
import { getAgent, type AgentDetail } from '../../api/agents.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const AGENT_REFRESH_MS = 5_000;

export function useAgent(agentId: string): Resource<AgentDetail> {
  const client = useClient();
  return useResource(() => getAgent(client, agentId), [client, agentId], { refreshMs: AGENT_REFRESH_MS });
}
