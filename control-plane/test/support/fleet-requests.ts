/**
 * The requests fleet tests make, as an agent and as an admin would: enrollment tokens, enroll, check-in
 * bodies. Everything goes through `app.inject`, so the auth hook and the route schemas are exercised.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { formatInstanceHeader, type AgentInstance, type CheckinRequest, type CheckinResponse } from '@sluice/shared/fleet/checkin';

export const bearer = (credential: string): { authorization: string } => ({ authorization: `Bearer ${credential}` });

export function nonce(): string {
  return randomBytes(16).toString('base64url');
}

export async function createToken(app: FastifyInstance, adminKey: string, body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/enrollment-tokens', headers: bearer(adminKey), payload: { name: 'test batch', ...body } });
  if (response.statusCode !== 201) throw new Error(`token create answered ${response.statusCode}: ${response.body}`);
  return response.json<{ id: string; token: string }>();
}

export function enroll(app: FastifyInstance, token: string, extra: Record<string, unknown> = {}, remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/v1/enroll',
    remoteAddress,
    payload: { token, hostname: 'gw-test', version: '0.1.0', instance: { counter: 1, nonce: nonce() }, ...extra },
  });
}

/** An enrolled agent as its identity file holds it; `session` is what its current process sends. */
export interface TestAgent {
  agentId: string;
  credential: string;
  session: AgentInstance;
}

export async function enrolledAgent(app: FastifyInstance, token: string, name?: string): Promise<TestAgent> {
  const response = await enroll(app, token, name === undefined ? {} : { name });
  if (response.statusCode !== 201) throw new Error(`enroll answered ${response.statusCode}: ${response.body}`);
  const { agentId, credential } = response.json<{ agentId: string; credential: string }>();
  // What the agent does at its first start after enrolling: counter+1, a fresh nonce.
  return { agentId, credential, session: { counter: 2, nonce: nonce() } };
}

export function checkinBody(overrides: Partial<CheckinRequest> = {}): CheckinRequest {
  const at = new Date().toISOString();
  return {
    version: '0.1.0',
    config: { hash: null, revision: null },
    apply: { state: 'applied', hash: null, at },
    health: {
      at,
      startedAt: at,
      sources: [{ id: 'app-log', type: 'file', dataset: 'sensors', state: 'running', position: 'app.log:1024' }],
      outbox: { rows: 0, bytes: 0, oldestAgeMs: null },
      breakers: [],
      datasets: [{ dataset: 'sensors', read: 10, committed: 10, shipped: 10 }],
    },
    ledger: [],
    allowedRoots: ['/var/log/app'],
    ...overrides,
  };
}

export function checkin(app: FastifyInstance, agent: Pick<TestAgent, 'credential' | 'session'>, body: CheckinRequest = checkinBody()): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/v1/agent/checkin',
    headers: { ...bearer(agent.credential), 'x-sluice-instance': formatInstanceHeader(agent.session) },
    payload: body,
  });
}

export async function okCheckin(app: FastifyInstance, agent: TestAgent, body?: CheckinRequest): Promise<CheckinResponse> {
  const response = await checkin(app, agent, body);
  if (response.statusCode !== 200) throw new Error(`check-in answered ${response.statusCode}: ${response.body}`);
  return response.json<CheckinResponse>();
}
