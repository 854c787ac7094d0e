/**
 * The fleet, operator and policy half of the access test's endpoint table (src/http/access.int.test.ts):
 * what those routes need to exist before they are called (a user with refresh tokens, enrolled agents,
 * policies with revisions and rollouts in each state the rollout actions need), made through the real
 * `serve` process's API, and each route with a concrete request and the answer its right caller gets.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { checkinBody } from './fleet-requests.ts';
import { insertAgent } from './fleet-rows.ts';

export type EndpointAuth = 'viewer' | 'operator' | 'admin' | 'agent' | 'public';

export interface Endpoint {
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** The route as registered (fastify syntax); the coverage test matches on it. */
  route: string;
  /** A concrete URL of the route. */
  path: string;
  auth: EndpointAuth;
  ok: number;
  body?: unknown;
  /** Sent with the right credential (an agent's instance header). */
  headers?: Record<string, string>;
}

export interface FleetFixture {
  id: string;
  dataset: string;
  user: string;
  refreshTokens: [string, string];
  apiKeyId: string;
  enrollToken: string;
  spareTokenId: string;
  agent: { id: string; credential: string; instance: string };
  revokedAgentId: string;
  policies: { completed: string; current2: string; staged: string; fresh: string };
  rollouts: { completed: number; staged: number };
}

const PASSWORD = 'access test password 0123';
const pipeline = (dataset: string, startAt: string) => ({ sources: [{ type: 'file', id: 'app', dataset, include: ['/var/log/app/*.log'], startAt }] });

/** Everything the fleet endpoints below act on, made as an admin would (and agents enrolling). */
export async function createFleetFixture(baseUrl: string, adminKey: string, pool: pg.Pool, id: string): Promise<FleetFixture> {
  const send = async (method: string, path: string, body?: unknown, auth: string | undefined = adminKey): Promise<Record<string, unknown>> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...(auth === undefined ? {} : { authorization: `Bearer ${auth}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const dataset = `acl_fleet_${id}`;
  await send('POST', '/api/v1/datasets', { name: dataset, sinks: {}, schema: { type: 'object' } });
  const user = `acl-user-${id}`;
  await send('POST', '/api/v1/users', { username: user, password: PASSWORD, role: 'viewer' });
  const login = async (): Promise<string> => (await send('POST', '/api/v1/auth/login', { username: user, password: PASSWORD, client: 'token' }, undefined)).refreshToken as string;
  const refreshTokens: [string, string] = [await login(), await login()];
  const apiKeyId = (await send('POST', '/api/v1/api-keys', { role: 'viewer', name: 'access test, revoked' })).id as string;
  const enrollToken = (await send('POST', '/api/v1/enrollment-tokens', { name: 'access test enroll' })).token as string;
  const spareTokenId = (await send('POST', '/api/v1/enrollment-tokens', { name: 'access test spare' })).id as string;
  const fixtureToken = (await send('POST', '/api/v1/enrollment-tokens', { name: 'access test agents', maxUses: 2 })).token as string;
  const enroll = async (hostname: string): Promise<{ id: string; credential: string; instance: string }> => {
    const nonce = randomBytes(16).toString('hex');
    const enrolled = await send('POST', '/api/v1/enroll', { token: fixtureToken, hostname, version: '0.0.0-test', instance: { counter: 1, nonce } }, undefined);
    return { id: enrolled.agentId as string, credential: enrolled.credential as string, instance: `1.${nonce}` };
  };
  const agent = await enroll('acl-gw');
  const revokedAgentId = (await enroll('acl-gw-revoked')).id;

  // One policy per rollout state the actions need; `fresh` has revisions and no rollout yet.
  const names = { completed: `acl-done-${id}`, current2: `acl-current-${id}`, staged: `acl-staged-${id}`, fresh: `acl-fresh-${id}` };
  const canary = `acl-canary-${id}`;
  await insertAgent(pool, canary, { acl: names.staged });
  for (const name of Object.values(names)) {
    await send('POST', '/api/v1/policies', { name, selector: { labels: { acl: name } } });
    await send('POST', `/api/v1/policies/${name}/revisions`, { config: pipeline(dataset, 'beginning') });
    await send('POST', `/api/v1/policies/${name}/revisions`, { config: pipeline(dataset, 'end') });
  }
  const all = { revision: 2, strategy: { kind: 'all' } };
  const completed = (await send('POST', `/api/v1/policies/${names.completed}/rollouts`, all)).id as number;
  await send('POST', `/api/v1/policies/${names.current2}/rollouts`, all);
  const staged = (await send('POST', `/api/v1/policies/${names.staged}/rollouts`, { revision: 2, strategy: { kind: 'staged', canary: { agents: [canary] }, waves: [{ percent: 100 }], soakSeconds: 60 } }))
    .id as number;
  return { id, dataset, user, refreshTokens, apiKeyId, enrollToken, spareTokenId, agent, revokedAgentId, policies: names, rollouts: { completed, staged } };
}

/** In order: a rollout is paused before it is resumed, a user changed before it is disabled. */
export function fleetEndpoints(f: FleetFixture): Endpoint[] {
  const agent = { headers: { 'x-sluice-instance': f.agent.instance } };
  const p = f.policies;
  const newUser = `acl-new-${f.id}`;
  return [
    { method: 'POST', route: '/api/v1/auth/login', path: '/api/v1/auth/login', auth: 'public', ok: 200, body: { username: f.user, password: PASSWORD, client: 'token' } },
    { method: 'POST', route: '/api/v1/auth/refresh', path: '/api/v1/auth/refresh', auth: 'public', ok: 200, body: { refreshToken: f.refreshTokens[0] } },
    { method: 'POST', route: '/api/v1/auth/logout', path: '/api/v1/auth/logout', auth: 'public', ok: 200, body: { refreshToken: f.refreshTokens[1] } },
    { method: 'GET', route: '/api/v1/auth/me', path: '/api/v1/auth/me', auth: 'viewer', ok: 200 },
    { method: 'GET', route: '/.well-known/jwks.json', path: '/.well-known/jwks.json', auth: 'public', ok: 200 },
    { method: 'HEAD', route: '/.well-known/jwks.json', path: '/.well-known/jwks.json', auth: 'public', ok: 200 },
    { method: 'POST', route: '/api/v1/users', path: '/api/v1/users', auth: 'admin', ok: 201, body: { username: newUser, password: PASSWORD, role: 'viewer' } },
    { method: 'GET', route: '/api/v1/users', path: '/api/v1/users', auth: 'admin', ok: 200 },
    { method: 'PATCH', route: '/api/v1/users/:username', path: `/api/v1/users/${newUser}`, auth: 'admin', ok: 200, body: { role: 'operator' } },
    { method: 'POST', route: '/api/v1/users/:username/disable', path: `/api/v1/users/${newUser}/disable`, auth: 'admin', ok: 200 },
    { method: 'POST', route: '/api/v1/api-keys', path: '/api/v1/api-keys', auth: 'admin', ok: 201, body: { role: 'viewer', name: 'access test, created' } },
    { method: 'GET', route: '/api/v1/api-keys', path: '/api/v1/api-keys', auth: 'admin', ok: 200 },
    { method: 'POST', route: '/api/v1/api-keys/:id/revoke', path: `/api/v1/api-keys/${f.apiKeyId}/revoke`, auth: 'admin', ok: 200 },
    { method: 'GET', route: '/api/v1/audit', path: '/api/v1/audit', auth: 'admin', ok: 200 },
    { method: 'POST', route: '/api/v1/enrollment-tokens', path: '/api/v1/enrollment-tokens', auth: 'admin', ok: 201, body: { name: 'access test, created' } },
    { method: 'GET', route: '/api/v1/enrollment-tokens', path: '/api/v1/enrollment-tokens', auth: 'admin', ok: 200 },
    { method: 'DELETE', route: '/api/v1/enrollment-tokens/:id', path: `/api/v1/enrollment-tokens/${f.spareTokenId}`, auth: 'admin', ok: 200 },
    {
      method: 'POST',
      route: '/api/v1/enroll',
      path: '/api/v1/enroll',
      auth: 'public',
      ok: 201,
      body: { token: f.enrollToken, hostname: 'acl-gw-new', version: '0.0.0-test', instance: { counter: 1, nonce: randomBytes(16).toString('hex') } },
    },
    { method: 'POST', route: '/api/v1/agent/checkin', path: '/api/v1/agent/checkin', auth: 'agent', ok: 200, body: checkinBody(), ...agent },
    { method: 'GET', route: '/api/v1/agent/config', path: '/api/v1/agent/config', auth: 'agent', ok: 200, ...agent },
    { method: 'HEAD', route: '/api/v1/agent/config', path: '/api/v1/agent/config', auth: 'agent', ok: 200, ...agent },
    { method: 'GET', route: '/api/v1/agents', path: '/api/v1/agents', auth: 'viewer', ok: 200 },
    { method: 'GET', route: '/api/v1/agents/:id', path: `/api/v1/agents/${f.agent.id}`, auth: 'viewer', ok: 200 },
    { method: 'PATCH', route: '/api/v1/agents/:id', path: `/api/v1/agents/${f.agent.id}`, auth: 'operator', ok: 200, body: { labels: { site: 'acl' } } },
    { method: 'POST', route: '/api/v1/agents/:id/revoke', path: `/api/v1/agents/${f.revokedAgentId}/revoke`, auth: 'admin', ok: 200 },
    { method: 'GET', route: '/api/v1/fleet/summary', path: '/api/v1/fleet/summary', auth: 'viewer', ok: 200 },
    { method: 'GET', route: '/api/v1/pipeline/health', path: '/api/v1/pipeline/health', auth: 'viewer', ok: 200 },
    { method: 'GET', route: '/api/v1/ledger', path: '/api/v1/ledger', auth: 'viewer', ok: 200 },
    { method: 'POST', route: '/api/v1/policies', path: '/api/v1/policies', auth: 'operator', ok: 201, body: { name: `acl-new-${f.id}` } },
    { method: 'GET', route: '/api/v1/policies', path: '/api/v1/policies', auth: 'viewer', ok: 200 },
    { method: 'GET', route: '/api/v1/policies/:name', path: `/api/v1/policies/${p.fresh}`, auth: 'viewer', ok: 200 },
    { method: 'PATCH', route: '/api/v1/policies/:name', path: `/api/v1/policies/${p.fresh}`, auth: 'operator', ok: 200, body: { description: 'access test' } },
    { method: 'POST', route: '/api/v1/policies/:name/validate', path: `/api/v1/policies/${p.fresh}/validate`, auth: 'operator', ok: 200, body: { config: pipeline(f.dataset, 'end') } },
    { method: 'POST', route: '/api/v1/policies/:name/revisions', path: `/api/v1/policies/${p.fresh}/revisions`, auth: 'operator', ok: 201, body: { config: pipeline(f.dataset, 'end'), message: 'third' } },
    { method: 'GET', route: '/api/v1/policies/:name/revisions', path: `/api/v1/policies/${p.fresh}/revisions`, auth: 'viewer', ok: 200 },
    { method: 'GET', route: '/api/v1/policies/:name/revisions/:n', path: `/api/v1/policies/${p.fresh}/revisions/1`, auth: 'viewer', ok: 200 },
    { method: 'GET', route: '/api/v1/policies/:name/diff', path: `/api/v1/policies/${p.fresh}/diff?from=1&to=2`, auth: 'viewer', ok: 200 },
    { method: 'POST', route: '/api/v1/policies/:name/rollouts', path: `/api/v1/policies/${p.fresh}/rollouts`, auth: 'operator', ok: 201, body: { revision: 2, strategy: { kind: 'all' } } },
    { method: 'GET', route: '/api/v1/policies/:name/rollouts', path: `/api/v1/policies/${p.fresh}/rollouts`, auth: 'viewer', ok: 200 },
    { method: 'POST', route: '/api/v1/policies/:name/rollback', path: `/api/v1/policies/${p.current2}/rollback`, auth: 'operator', ok: 200, body: { revision: 1 } },
    { method: 'GET', route: '/api/v1/rollouts/:id', path: `/api/v1/rollouts/${f.rollouts.staged}`, auth: 'viewer', ok: 200 },
    { method: 'POST', route: '/api/v1/rollouts/:id/pause', path: `/api/v1/rollouts/${f.rollouts.staged}/pause`, auth: 'operator', ok: 200 },
    { method: 'POST', route: '/api/v1/rollouts/:id/resume', path: `/api/v1/rollouts/${f.rollouts.staged}/resume`, auth: 'operator', ok: 200 },
    { method: 'POST', route: '/api/v1/rollouts/:id/abort', path: `/api/v1/rollouts/${f.rollouts.staged}/abort`, auth: 'operator', ok: 200 },
    { method: 'POST', route: '/api/v1/rollouts/:id/rollback', path: `/api/v1/rollouts/${f.rollouts.completed}/rollback`, auth: 'operator', ok: 200 },
  ];
}
