/** GET /api/v1/pipeline/health and the rollouts drawn on its charts, typed from shared/src/api. */
import type { FromSchema } from 'json-schema-to-ts';
import type { PipelineHealthReport } from '@sluice/shared/api/fleet-health';
import type { policyListSchema, RolloutView } from '@sluice/shared/api/policies';
import type { rolloutListSchema } from '@sluice/shared/api/policies';
import type { ApiClient } from './client.ts';

export type { PipelineHealthReport, RolloutView };
type PolicyList = FromSchema<typeof policyListSchema>;
type RolloutList = FromSchema<typeof rolloutListSchema>;

export function getPipelineHealth(client: ApiClient, minutes: number): Promise<PipelineHealthReport> {
  return client.get<PipelineHealthReport>('/api/v1/pipeline/health', { minutes });
}

/** Every policy's rollouts (newest first per policy). */
export async function listRollouts(client: ApiClient): Promise<RolloutView[]> {
  const policies = await client.get<PolicyList>('/api/v1/policies');
  const lists = await Promise.all(policies.items.map((p) => client.get<RolloutList>(`/api/v1/policies/${encodeURIComponent(p.name)}/rollouts`)));
  return lists.flatMap((l) => l.items);
}
