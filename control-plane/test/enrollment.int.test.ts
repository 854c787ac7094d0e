/**
 * Enrollment against real PostgreSQL: tokens are admin-only and audited, every refused token says why
 * (unknown, expired, revoked, exhausted), concurrent enrolls never pass max_uses, the agent gets the token's
 * labels and a credential stored only as its hash, and repeated bad tokens lock the address out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { createFleet, type Fleet } from '../src/fleet/fleet-services.ts';
import { RateLimiter } from '../src/operators/rate-limit.ts';
import { bearer, createToken, enroll, enrolledAgent, checkin } from './support/fleet-requests.ts';
import { freshState } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let fleet: Fleet;
const ADMIN = 'bootstrap-admin-key-for-enrollment-tests-0123';
let operatorKey = '';

beforeAll(async () => {
  state = await freshState();
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  operatorKey = (await apiKeys.create('operator', 'ops')).key;
  fleet = createFleet(state.pool, { enrollLimiter: new RateLimiter({ attempts: 1000, windowMs: 60_000, failures: 5, lockoutMs: 60_000 }) });
  await fleet.start();
  server = await testServer(state.pool, { apiKeys, fleet });
});

afterAll(async () => {
  await server?.close();
  await fleet?.close();
  await state?.drop();
});

const refusal = (response: { statusCode: number; json: () => unknown }) => ({ status: response.statusCode, body: response.json() as { error: { name: string; message: string } } });

describe('enrollment tokens', () => {
  it('are created, listed and revoked by admins only, and every change is audited', async () => {
    const { app } = server;
    expect((await app.inject({ method: 'POST', url: '/api/v1/enrollment-tokens', payload: { name: 'x' } })).statusCode).toBe(401);
    const asOperator = await app.inject({ method: 'POST', url: '/api/v1/enrollment-tokens', headers: bearer(operatorKey), payload: { name: 'x' } });
    expect(asOperator.statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/v1/enrollment-tokens', headers: bearer(operatorKey) })).statusCode).toBe(403);

    const created = await createToken(app, ADMIN, { name: 'berlin batch', maxUses: 5, labels: { site: 'berlin' } });
    expect(created.token).toMatch(/^sle_/);
    const listed = await app.inject({ method: 'GET', url: '/api/v1/enrollment-tokens', headers: bearer(ADMIN) });
    const item = listed.json<{ items: Array<Record<string, unknown>> }>().items.find((t) => t.id === created.id);
    expect(item).toMatchObject({ name: 'berlin batch', maxUses: 5, uses: 0, labels: { site: 'berlin' }, state: 'active' });
    expect(item).not.toHaveProperty('token');

    const revoked = await app.inject({ method: 'DELETE', url: `/api/v1/enrollment-tokens/${created.id}`, headers: bearer(ADMIN) });
    expect(revoked.json()).toMatchObject({ state: 'revoked' });
    const stored = await state.pool.query<{ token_hash: string }>('SELECT token_hash FROM enrollment_tokens WHERE id = $1', [created.id]);
    expect(stored.rows[0]?.token_hash).not.toContain(created.token);
    const audit = await state.pool.query<{ action: string; actor_id: string; after: unknown }>(
      `SELECT action, actor_id, after FROM audit_log WHERE target_id = $1 ORDER BY id`,
      [created.id],
    );
    expect(audit.rows.map((r) => [r.action, r.actor_id])).toEqual([
      ['enrollment-token.create', 'bootstrap-admin'],
      ['enrollment-token.revoke', 'bootstrap-admin'],
    ]);
    expect(JSON.stringify(audit.rows)).not.toContain(created.token);
  });
});

describe('enroll', () => {
  it('trades a token for an agent id and a credential stored hashed, with the token labels, audited as the agent', async () => {
    const { app } = server;
    const { token, id } = await createToken(app, ADMIN, { labels: { site: 'hamburg', role: 'gateway' } });
    const response = await enroll(app, token, { name: 'Gateway Hamburg #1', hostname: 'gw-hh-1' });
    expect(response.statusCode).toBe(201);
    const { agentId, credential } = response.json<{ agentId: string; credential: string }>();
    expect(agentId).toMatch(/^Gateway-Hamburg-1-[0-9a-f]{6}$/);
    expect(credential).toMatch(/^sla_/);
    const row = (await state.pool.query('SELECT * FROM agents WHERE id = $1', [agentId])).rows[0] as Record<string, unknown>;
    expect(row).toMatchObject({ labels: { site: 'hamburg', role: 'gateway' }, status: 'active', hostname: 'gw-hh-1', enrollment_token_id: id });
    expect(JSON.stringify(row)).not.toContain(credential);
    const audit = await state.pool.query<{ actor_kind: string; actor_id: string }>(`SELECT actor_kind, actor_id FROM audit_log WHERE action = 'agent.enroll' AND target_id = $1`, [agentId]);
    expect(audit.rows).toEqual([{ actor_kind: 'agent', actor_id: agentId }]);
    // The credential works as that agent, once its process starts a session.
    const answer = await checkin(app, { credential, session: { counter: 2, nonce: 'n'.repeat(22) } });
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ agentId, desired: null });
  });

  it('refuses unknown, expired, revoked and exhausted tokens with 401 naming which', async () => {
    const { app } = server;
    const unknown = refusal(await enroll(app, 'sle_not-a-real-token', {}, '10.0.0.1'));
    expect(unknown).toMatchObject({ status: 401, body: { error: { name: 'UnauthorizedError', message: 'unknown enrollment token' } } });

    const expired = await createToken(app, ADMIN);
    await state.pool.query(`UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    expect(refusal(await enroll(app, expired.token, {}, '10.0.0.2')).body.error.message).toMatch(new RegExp(`^enrollment token ${expired.id} \\(test batch\\) expired at `));

    const revoked = await createToken(app, ADMIN);
    await app.inject({ method: 'DELETE', url: `/api/v1/enrollment-tokens/${revoked.id}`, headers: bearer(ADMIN) });
    expect(refusal(await enroll(app, revoked.token, {}, '10.0.0.3'))).toMatchObject({ status: 401, body: { error: { message: `enrollment token ${revoked.id} (test batch) was revoked` } } });

    const single = await createToken(app, ADMIN, { maxUses: 1 });
    expect((await enroll(app, single.token, {}, '10.0.0.4')).statusCode).toBe(201);
    expect(refusal(await enroll(app, single.token, {}, '10.0.0.4'))).toMatchObject({
      status: 401,
      body: { error: { message: `enrollment token ${single.id} (test batch) is used up (1 of 1 uses)` } },
    });
    const agents = await state.pool.query<{ n: string }>('SELECT count(*) AS n FROM agents WHERE enrollment_token_id = ANY($1)', [[expired.id, revoked.id, single.id]]);
    expect(Number(agents.rows[0]?.n)).toBe(1);
  });

  it('counts uses atomically: 12 concurrent enrolls on a 4-use token make exactly 4 agents', async () => {
    const { app } = server;
    const { id, token } = await createToken(app, ADMIN, { maxUses: 4 });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => enroll(app, token, { hostname: `gw-${i}` }, '10.0.1.1')));
    expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(4);
    expect(answers.filter((a) => a.statusCode === 401).map((a) => a.json<{ error: { message: string } }>().error.message)).toEqual(
      Array.from({ length: 8 }, () => `enrollment token ${id} (test batch) is used up (4 of 4 uses)`),
    );
    const row = await state.pool.query<{ uses: number; agents: string }>(
      'SELECT uses, (SELECT count(*) FROM agents WHERE enrollment_token_id = $1) AS agents FROM enrollment_tokens WHERE id = $1',
      [id],
    );
    expect(row.rows[0]).toEqual({ uses: 4, agents: '4' });
  });

  it('locks an address out after repeated bad tokens, before looking at the token; other addresses still enroll', async () => {
    const { app } = server;
    const { token } = await createToken(app, ADMIN, { maxUses: 2 });
    for (let i = 0; i < 5; i++) expect((await enroll(app, `sle_guess-${i}`, {}, '10.9.9.9')).statusCode).toBe(401);
    const locked = await enroll(app, token, {}, '10.9.9.9');
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBeDefined();
    expect((await enroll(app, token, {}, '10.9.9.10')).statusCode).toBe(201);
  });

  it('refuses an enroll body that names labels or lacks an instance (400 with the path)', async () => {
    const { app } = server;
    const { token } = await createToken(app, ADMIN);
    const labelled = await app.inject({
      method: 'POST',
      url: '/api/v1/enroll',
      remoteAddress: '10.0.2.1',
      payload: { token, hostname: 'h', version: '1', instance: { counter: 1, nonce: 'x'.repeat(22) }, labels: { site: 'mine' } },
    });
    expect(labelled.statusCode).toBe(400);
    const bare = await app.inject({ method: 'POST', url: '/api/v1/enroll', remoteAddress: '10.0.2.1', payload: { token, hostname: 'h', version: '1' } });
    expect(bare.statusCode).toBe(400);
    expect(bare.body).toContain('instance');
  });

  it('answers every fleet route by role: 401 without a credential, 403 below the role it declares', async () => {
    const { app } = server;
    const { token } = await createToken(app, ADMIN);
    const agent = await enrolledAgent(app, token);
    const apiKeys = new ApiKeyStore(state.pool);
    const keys = { viewer: (await apiKeys.create('viewer', 'v')).key, operator: operatorKey, admin: ADMIN };
    const routes: Array<[method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, least: keyof typeof keys, payload?: unknown]> = [
      ['GET', '/api/v1/enrollment-tokens', 'admin'],
      ['POST', '/api/v1/enrollment-tokens', 'admin', { name: 'roles' }],
      ['DELETE', '/api/v1/enrollment-tokens/et-none', 'admin'],
      ['GET', '/api/v1/agents', 'viewer'],
      ['GET', `/api/v1/agents/${agent.agentId}`, 'viewer'],
      ['PATCH', `/api/v1/agents/${agent.agentId}`, 'operator', { labels: { roles: 'test' } }],
      ['POST', `/api/v1/agents/${agent.agentId}-none/revoke`, 'admin'],
    ];
    const order = ['viewer', 'operator', 'admin'] as const;
    for (const [method, url, least, payload] of routes) {
      const seen = [`${(await app.inject({ method, url, payload: payload as never })).statusCode}`];
      for (const role of order) {
        const status = (await app.inject({ method, url, headers: bearer(keys[role]), payload: payload as never })).statusCode;
        seen.push(order.indexOf(role) < order.indexOf(least) ? `${role}:${status}` : `${role}:${status === 403 || status === 401 ? status : 'ok'}`);
      }
      const expected = ['401', ...order.map((role) => (order.indexOf(role) < order.indexOf(least) ? `${role}:403` : `${role}:ok`))];
      expect(`${method} ${url} ${seen.join(' ')}`).toBe(`${method} ${url} ${expected.join(' ')}`);
    }
  });

  it('gives agent credentials no role: an agent is refused on human routes', async () => {
    const { app } = server;
    const { token } = await createToken(app, ADMIN);
    const agent = await enrolledAgent(app, token);
    const headers = { ...bearer(agent.credential), 'x-sluice-instance': `${agent.session.counter}.${agent.session.nonce}` };
    for (const [method, url] of [
      ['GET', '/api/v1/agents'],
      ['GET', `/api/v1/agents/${agent.agentId}`],
      ['GET', '/api/v1/enrollment-tokens'],
      ['POST', `/api/v1/agents/${agent.agentId}/revoke`],
      ['GET', '/api/v1/datasets'],
    ] as const) {
      const response = await app.inject({ method, url, headers });
      expect(`${method} ${url} ${response.statusCode}`).toBe(`${method} ${url} 403`);
    }
  });
});
