/**
 * The route × principal matrix, over EVERY route the server registers (read from its onRoute table, so a
 * route added later is covered without touching this file): no credential -> 401; each principal below the
 * route's auth -> 403 (viewer / operator / admin API keys, viewer and operator user JWTs, an agent
 * credential); an 'agent' route refuses every human principal; public routes are exactly an allow-list;
 * no route lacks an auth declaration. A real PostgreSQL state schema; the agent is really enrolled.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, type Role } from '../src/auth/api-keys.ts';
import type { RouteAuth } from '../src/auth/principal.ts';
import { withTransaction } from '../src/db/transaction.ts';
import { routeTable } from '../src/http/server.ts';
import { createOperatorServices } from '../src/operators/operator-services.ts';
import { freshState } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

/** The only routes anyone may call without a credential; each limits itself (rate limits, lockout). */
const PUBLIC_ROUTES = ['POST /api/v1/auth/login', 'POST /api/v1/auth/refresh', 'POST /api/v1/auth/logout', 'GET /.well-known/jwks.json', 'HEAD /.well-known/jwks.json', 'POST /api/v1/enroll',
  // The console's static files: no data in them; every data call the console makes needs the login.
  'GET /console', 'HEAD /console', 'GET /console/*', 'HEAD /console/*'];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const ADMIN_KEY = 'route-auth-test-bootstrap-admin-0123456789';
const PASSWORD = 'route auth test password';

interface Caller {
  label: string;
  authorization: string;
  /** The role it holds, or 'agent'. */
  holds: Role | 'agent';
  headers?: Record<string, string>;
}

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;
const callers: Caller[] = [];

function concrete(url: string): string {
  return url.replace(/:[A-Za-z_]+/g, 'x').replace(/\*/g, 'x');
}

async function userToken(username: string, role: Role): Promise<string> {
  await withTransaction(state.pool, (client) => server.deps.operators.users.create(client, { username, password: PASSWORD, role }));
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: PASSWORD, client: 'token' } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ accessToken: string }>().accessToken;
}

/** An agent credential from a real enrollment, when the server has the fleet routes. */
async function agentCaller(): Promise<Caller | undefined> {
  if (!routeTable(app).some((r) => r.url === '/api/v1/enroll')) return undefined;
  const token = await app.inject({ method: 'POST', url: '/api/v1/enrollment-tokens', headers: { authorization: `Bearer ${ADMIN_KEY}` }, payload: { name: 'route-auth' } });
  expect(token.statusCode, token.body).toBe(201);
  const nonce = randomBytes(16).toString('hex');
  const enrolled = await app.inject({
    method: 'POST',
    url: '/api/v1/enroll',
    payload: { token: token.json<{ token: string }>().token, hostname: 'route-auth-host', version: '0.0.0-test', instance: { counter: 1, nonce } },
  });
  expect(enrolled.statusCode, enrolled.body).toBe(201);
  return { label: 'agent credential', authorization: `Bearer ${enrolled.json<{ credential: string }>().credential}`, holds: 'agent', headers: { 'x-sluice-instance': `1.${nonce}` } };
}

/** Whether `caller` is below what the route declares (must get 403). */
function refused(auth: RouteAuth, caller: Caller): boolean {
  if (auth === 'public') return false;
  if (auth === 'agent') return caller.holds !== 'agent';
  return caller.holds === 'agent' || RANK[caller.holds] < RANK[auth];
}

beforeAll(async () => {
  state = await freshState();
  await new ApiKeyStore(state.pool).bootstrapAdmin(ADMIN_KEY);
  // The default test server: every service, the fleet routes included.
  server = await testServer(state.pool, { operators: createOperatorServices(state.pool, { loginRatePerMinute: 10_000 }) });
  app = server.app;
  await app.ready();
  const keys = new ApiKeyStore(state.pool);
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    callers.push({ label: `${role} API key`, authorization: `Bearer ${(await keys.create(role, `route-auth ${role}`)).key}`, holds: role });
  }
  for (const role of ['viewer', 'operator'] as const) callers.push({ label: `${role} user JWT`, authorization: `Bearer ${await userToken(`jwt-${role}`, role)}`, holds: role });
  const agent = await agentCaller();
  if (agent) callers.push(agent);
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

describe('every registered route declares who may call it', () => {
  it('has no route without auth, and exactly the allow-listed public routes', () => {
    const table = routeTable(app);
    expect(table.length).toBeGreaterThan(30);
    const undeclared = table.filter((r) => r.auth === undefined).map((r) => `${r.method} ${r.url}`);
    expect(undeclared).toEqual([]);
    const publicRoutes = table.filter((r) => r.auth === 'public').map((r) => `${r.method} ${r.url}`);
    const expected = PUBLIC_ROUTES.filter((p) => table.some((r) => `${r.method} ${r.url}` === p));
    expect(publicRoutes.sort()).toEqual(expected.sort());
    // Login, refresh, logout and the JWKS are this server's own; they must be there.
    for (const own of PUBLIC_ROUTES.filter((p) => !p.includes('enroll'))) expect(publicRoutes).toContain(own);
  });

  it('answers 401 without a credential on every non-public route', async () => {
    const failures: string[] = [];
    for (const route of routeTable(app)) {
      if (route.auth === 'public') continue;
      const res = await app.inject({ method: route.method as 'GET', url: concrete(route.url) });
      if (res.statusCode !== 401) failures.push(`${route.method} ${route.url}: ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
  });

  it('answers 403 to every principal below the route, human or agent', async () => {
    expect(callers.map((c) => c.label)).toContain('viewer user JWT');
    const failures: string[] = [];
    let checked = 0;
    for (const route of routeTable(app)) {
      if (route.auth === undefined || route.auth === 'public') continue;
      for (const caller of callers) {
        if (!refused(route.auth, caller)) continue;
        const res = await app.inject({ method: route.method as 'GET', url: concrete(route.url), headers: { authorization: caller.authorization, ...caller.headers } });
        checked++;
        if (res.statusCode !== 403) failures.push(`${route.method} ${route.url} as ${caller.label}: ${res.statusCode} ${res.body.slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('lets an agent credential through only on agent routes, and only as itself', async () => {
    const agent = callers.find((c) => c.holds === 'agent');
    // The fleet routes are part of the default test server; without them there is no agent to check.
    if (!routeTable(app).some((r) => r.url === '/api/v1/enroll')) return;
    expect(agent).toBeDefined();
    if (!agent) return;
    const agentRoutes = routeTable(app).filter((r) => r.auth === 'agent');
    expect(agentRoutes.length).toBeGreaterThan(0);
    const own = await app.inject({ method: 'GET', url: '/api/v1/agent/config', headers: { authorization: agent.authorization, ...agent.headers } });
    expect([401, 403]).not.toContain(own.statusCode);
    // A cloned identity (same credential, another instance) is refused: a second process of the same counter.
    const clone = await app.inject({
      method: 'GET',
      url: '/api/v1/agent/config',
      headers: { authorization: agent.authorization, 'x-sluice-instance': `1.${randomBytes(16).toString('hex')}` },
    });
    expect(clone.statusCode).toBe(403);
    expect(clone.json<{ error: { message: string } }>().error.message).toMatch(/in use by another instance/);
  });
});
