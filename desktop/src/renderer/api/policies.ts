/** /api/v1/policies and /api/v1/rollouts, typed from their schemas (shared/src/api/policies.ts). */
import type { FromSchema } from 'json-schema-to-ts';
import type {
  CreatePolicyBody,
  DiffResponse,
  PolicyView,
  RevisionSummary,
  RevisionView,
  RolloutView,
  StartRolloutBody,
  ValidateResponse,
  policyListSchema,
  revisionListSchema,
  rolloutListSchema,
} from '@sluice/shared/api/policies';
import type { ApiClient } from './client.ts';

export type { CreatePolicyBody, DiffResponse, PolicyView, RevisionSummary, RevisionView, RolloutView, StartRolloutBody, ValidateResponse };
export type RolloutStrategy = StartRolloutBody['strategy'];
export type RolloutAction = 'pause' | 'resume' | 'abort' | 'rollback';
type PolicyList = FromSchema<typeof policyListSchema>;
type RevisionList = FromSchema<typeof revisionListSchema>;
type RolloutList = FromSchema<typeof rolloutListSchema>;

const policyPath = (name: string) => `/api/v1/policies/${encodeURIComponent(name)}`;

export async function listPolicies(client: ApiClient): Promise<PolicyView[]> {
  return (await client.get<PolicyList>('/api/v1/policies')).items;
}

export function getPolicy(client: ApiClient, name: string): Promise<PolicyView> {
  return client.get<PolicyView>(policyPath(name));
}

export function createPolicy(client: ApiClient, body: CreatePolicyBody): Promise<PolicyView> {
  return client.post<PolicyView>('/api/v1/policies', body);
}

export async function listRevisions(client: ApiClient, name: string): Promise<RevisionSummary[]> {
  return (await client.get<RevisionList>(`${policyPath(name)}/revisions`)).items;
}

export function getRevision(client: ApiClient, name: string, number: number): Promise<RevisionView> {
  return client.get<RevisionView>(`${policyPath(name)}/revisions/${String(number)}`);
}

/** The server's checks of a config (schema, datasets exist, folders allowed), without publishing it. */
export function validateConfig(client: ApiClient, name: string, config: object): Promise<ValidateResponse> {
  return client.post<ValidateResponse>(`${policyPath(name)}/validate`, { config });
}

export function diffRevisions(client: ApiClient, name: string, from: number, to: number): Promise<DiffResponse> {
  return client.get<DiffResponse>(`${policyPath(name)}/diff`, { from, to });
}

export function publishRevision(client: ApiClient, name: string, config: object, message: string): Promise<RevisionView> {
  return client.post<RevisionView>(`${policyPath(name)}/revisions`, { config, message });
}

/** Makes an earlier revision current at once (every agent of the policy gets it; an active rollout ends aborted). */
export async function makeRevisionCurrent(client: ApiClient, name: string, revision: number): Promise<void> {
  await client.post<unknown>(`${policyPath(name)}/rollback`, { revision });
}

export function startRollout(client: ApiClient, name: string, body: StartRolloutBody): Promise<RolloutView> {
  return client.post<RolloutView>(`${policyPath(name)}/rollouts`, body);
}

/** A policy's rollouts, newest first; the list leaves out which agents each one moves (`agents` is empty). */
export async function listPolicyRollouts(client: ApiClient, name: string): Promise<RolloutView[]> {
  return (await client.get<RolloutList>(`${policyPath(name)}/rollouts`)).items;
}

/** One rollout with its agents and their waves. */
export function getRollout(client: ApiClient, id: number): Promise<RolloutView> {
  return client.get<RolloutView>(`/api/v1/rollouts/${String(id)}`);
}

export function rolloutAction(client: ApiClient, id: number, action: RolloutAction): Promise<RolloutView> {
  return client.post<RolloutView>(`/api/v1/rollouts/${String(id)}/${action}`, {});
}
