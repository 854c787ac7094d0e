/** /api/v1/agents, typed from its response schemas (shared/src/api/fleet-agents.ts). */
import type { FromSchema } from 'json-schema-to-ts';
import type { AgentDetail, AgentListQuery, AgentSummary, agentListSchema } from '@sluice/shared/api/fleet-agents';
import type { CheckinHealth } from '@sluice/shared/fleet/checkin';
import type { ApiClient } from './client.ts';

export type AgentList = FromSchema<typeof agentListSchema>;
export type { AgentDetail, AgentSummary };

/** Every agent (the list is paged; the console reads it whole, up to `max`). */
export async function listAgents(client: ApiClient, query: Partial<Omit<AgentListQuery, 'after' | 'limit'>> = {}, max = 10_000): Promise<AgentSummary[]> {
  const items: AgentSummary[] = [];
  let after: string | undefined;
  do {
    const page = await client.get<AgentList>('/api/v1/agents', { ...query, after, limit: Math.min(1000, max - items.length) });
    items.push(...page.items);
    after = page.next;
  } while (after !== undefined && items.length < max);
  return items;
}

export function getAgent(client: ApiClient, id: string): Promise<AgentDetail> {
  return client.get<AgentDetail>(`/api/v1/agents/${encodeURIComponent(id)}`);
}

/**
 * The detail's `health` (and each check-in's) is the check-in request's health snapshot, left open in the
 * response schema; this reads it as that type when it has its shape, else as absent.
 */
export function healthOf(value: unknown): CheckinHealth | null {
  if (typeof value !== 'object' || value === null) return null;
  const h = value as Partial<Record<keyof CheckinHealth, unknown>>;
  const ok = Array.isArray(h.sources) && Array.isArray(h.breakers) && Array.isArray(h.datasets) && typeof h.outbox === 'object' && h.outbox !== null && typeof h.at === 'string';
  return ok ? (value as CheckinHealth) : null;
}
