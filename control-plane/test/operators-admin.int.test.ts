/**
 * Administration over REST against real PostgreSQL: users and API keys (create, list, change, disable,
 * revoke), each change with its audit row in the same transaction (an audit insert that fails takes the
 * change with it), the audit query's filters and cursor pages, CORS for the console's origin only, the JSON
 * nesting limit of control bodies, and the real `users create --admin` command.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { createOperatorServices } from '../src/operators/operator-services.ts';
import { freshState } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const BIN = fileURLToPath(new URL('../bin/sluice-control-plane.js', import.meta.url));
const ADMIN_KEY = 'operators-admin-test-bootstrap-key-0123456789';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const PASSWORD = 'a long enough password';

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;

interface AuditPage {
  entries: Array<{ id: string; action: string; actor: { kind: string; id: string }; target: { kind: string; id: string }; before: unknown; after: unknown }>;
  nextCursor: string | null;
}

const audit = async (query: string): Promise<AuditPage> => {
  const res = await app.inject({ method: 'GET', url: `/api/v1/audit?${query}`, headers: admin });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<AuditPage>();
};

async function loginToken(username: string, password = PASSWORD): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password, client: 'token' } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

beforeAll(async () => {
  state = await freshState();
  await new ApiKeyStore(state.pool).bootstrapAdmin(ADMIN_KEY);
  server = await testServer(state.pool, { operators: createOperatorServices(state.pool, { loginRatePerMinute: 10_000 }), fleet: undefined, policies: undefined, fleetHealth: undefined });
  app = server.app;
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

describe('users over REST (admin)', () => {
  it('creates a user who can log in, lists it, and audits the creation without the password', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'Olga', password: PASSWORD, role: 'operator' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ username: 'olga', role: 'operator', disabledAt: null });
    const list = (await app.inject({ method: 'GET', url: '/api/v1/users', headers: admin })).json<{ users: Array<{ username: string }> }>();
    expect(list.users.map((u) => u.username)).toContain('olga');
    await loginToken('olga');
    const page = await audit('action=user.create&targetId=olga');
    expect(page.entries).toHaveLength(1);
    expect(page.entries[0]).toMatchObject({ actor: { kind: 'apiKey', id: 'bootstrap-admin' }, target: { kind: 'user', id: 'olga' } });
    const text = JSON.stringify(page);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('argon2');
    const stored = await state.pool.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'olga'");
    expect(stored.rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('answers bad input with a path and a reason, and 409 for a taken username', async () => {
    const short = await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'shorty', password: 'too short', role: 'viewer' } });
    expect(short.statusCode).toBe(400);
    expect(short.json<{ error: { message: string } }>().error.message).toMatch(/^\/password: must be at least 12 characters/);
    const badName = await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'no spaces allowed', password: PASSWORD, role: 'viewer' } });
    expect(badName.json<{ error: { message: string } }>().error.message).toMatch(/^\/username:/);
    const taken = await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'olga', password: PASSWORD, role: 'viewer' } });
    expect(taken.statusCode).toBe(409);
  });

  it('changes a role, resets a password (revoking sessions), disables a user, and refuses to lose the last admin', async () => {
    await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'paul', password: PASSWORD, role: 'viewer' } });
    const session = await loginToken('paul');
    const promoted = await app.inject({ method: 'PATCH', url: '/api/v1/users/paul', headers: admin, payload: { role: 'admin' } });
    expect(promoted.json()).toMatchObject({ role: 'admin' });
    const reset = await app.inject({ method: 'PATCH', url: '/api/v1/users/paul', headers: admin, payload: { password: 'a brand new password' } });
    expect(reset.statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: session.refreshToken } })).statusCode).toBe(401);
    const fresh = await loginToken('paul', 'a brand new password');
    // paul is the only admin user: demoting or disabling him is refused and leaves no audit row.
    const demote = await app.inject({ method: 'PATCH', url: '/api/v1/users/paul', headers: { authorization: `Bearer ${fresh.accessToken}` }, payload: { role: 'viewer' } });
    expect(demote.statusCode).toBe(409);
    const actions = (await audit('targetKind=user&targetId=paul&action=user.*')).entries.map((e) => e.action);
    expect(actions).toEqual(['user.password-reset', 'user.update', 'user.create']);
    const resetEntry = (await audit('action=user.password-reset')).entries[0]!;
    expect(resetEntry.after).toMatchObject({ passwordChanged: true, revokedSessions: 1 });
    expect(JSON.stringify(resetEntry)).not.toContain('a brand new password');

    const disabled = await app.inject({ method: 'POST', url: '/api/v1/users/olga/disable', headers: admin });
    expect(disabled.json<{ disabledAt: string | null }>().disabledAt).not.toBeNull();
    expect((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'olga', password: PASSWORD, client: 'token' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/v1/users/paul/disable', headers: admin })).statusCode).toBe(409);
    expect((await app.inject({ method: 'POST', url: '/api/v1/users/nobody/disable', headers: admin })).statusCode).toBe(404);
  });

  it('writes the change and its audit row in one transaction: a failing audit insert leaves no user', async () => {
    await state.pool.query(`CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.target_id = 'doomed' THEN RAISE EXCEPTION 'audit refused for the test'; END IF; RETURN NEW; END; $$`);
    await state.pool.query('CREATE TRIGGER refuse_doomed BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_doomed()');
    try {
      const res = await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'doomed', password: PASSWORD, role: 'viewer' } });
      expect(res.statusCode).toBe(500);
      expect((await state.pool.query("SELECT 1 FROM users WHERE username = 'doomed'")).rowCount).toBe(0);
    } finally {
      await state.pool.query('DROP TRIGGER refuse_doomed ON audit_log');
      await state.pool.query('DROP FUNCTION refuse_doomed()');
    }
  });

  it('keeps the user routes to admins: an operator user gets 403', async () => {
    await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { username: 'oscar', password: PASSWORD, role: 'operator' } });
    const { accessToken } = await loginToken('oscar');
    const res = await app.inject({ method: 'GET', url: '/api/v1/users', headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.statusCode).toBe(403);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/needs the admin role; the user has operator/);
  });
});

describe('API keys over REST (admin)', () => {
  it('creates a key shown once, lists it without the key, revokes it, and audits both', async () => {
    const created = await app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: admin, payload: { role: 'viewer', name: 'grafana' } });
    expect(created.statusCode, created.body).toBe(201);
    const key = created.json<{ id: string; key: string; role: string }>();
    expect(key.key).toMatch(/^slk_/);
    expect((await app.inject({ method: 'GET', url: '/api/v1/datasets', headers: { authorization: `Bearer ${key.key}` } })).statusCode).toBe(200);
    const list = await app.inject({ method: 'GET', url: '/api/v1/api-keys', headers: admin });
    expect(list.body).not.toContain(key.key);
    expect(list.json<{ apiKeys: Array<{ id: string; revokedAt: string | null }> }>().apiKeys.find((k) => k.id === key.id)).toMatchObject({ revokedAt: null });
    const revoked = await app.inject({ method: 'POST', url: `/api/v1/api-keys/${key.id}/revoke`, headers: admin });
    expect(revoked.json<{ revokedAt: string | null }>().revokedAt).not.toBeNull();
    expect((await app.inject({ method: 'GET', url: '/api/v1/datasets', headers: { authorization: `Bearer ${key.key}` } })).statusCode).toBe(401);
    const actions = (await audit(`targetKind=apiKey&targetId=${key.id}`)).entries.map((e) => e.action);
    expect(actions).toEqual(['apikey.revoke', 'apikey.create']);
    const text = JSON.stringify(await audit('action=apikey.*'));
    expect(text).not.toContain(key.key);
    expect((await app.inject({ method: 'POST', url: '/api/v1/api-keys/nope/revoke', headers: admin })).statusCode).toBe(404);
  });
});

describe('audit query', () => {
  it('filters by actor, action prefix, target and time, and pages by cursor without overlap', async () => {
    for (const name of ['page1', 'page2', 'page3', 'page4', 'page5']) {
      await app.inject({ method: 'POST', url: '/api/v1/api-keys', headers: admin, payload: { role: 'viewer', name } });
    }
    const all = await audit('action=apikey.create&limit=500');
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const page: AuditPage = await audit(`action=apikey.create&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor;
      pages++;
    }
    expect(seen).toEqual(all.entries.map((e) => e.id));
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(Math.ceil(all.entries.length / 2));
    expect(Number(seen[0])).toBeGreaterThan(Number(seen.at(-1)));

    expect((await audit('actor=bootstrap-admin&limit=500')).entries.every((e) => e.actor.id === 'bootstrap-admin')).toBe(true);
    expect((await audit('actor=nobody')).entries).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await audit(`from=${encodeURIComponent(future)}`)).entries).toEqual([]);
    expect((await audit(`to=${encodeURIComponent(future)}&action=apikey.create&limit=500`)).entries).toHaveLength(all.entries.length);
    const bad = await app.inject({ method: 'GET', url: '/api/v1/audit?cursor=not-a-cursor', headers: admin });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { message: string } }>().error.message).toMatch(/^\/cursor:/);
  });
});

describe('request limits and CORS', () => {
  it('refuses a control body nested deeper than the limit with a clear 400', async () => {
    const deep = `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`;
    const res = await app.inject({ method: 'POST', url: '/api/v1/users', headers: { ...admin, 'content-type': 'application/json' }, payload: deep });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/nested more than 64 levels/);
  });

  it('answers CORS only for the console origin, and sends no CORS headers without one configured', async () => {
    const origin = 'https://console.example.test';
    const withCors = await testServer(state.pool, { consoleOrigin: origin, fleet: undefined, policies: undefined, fleetHealth: undefined });
    try {
      const preflight = (from: string) =>
        withCors.app.inject({ method: 'OPTIONS', url: '/api/v1/auth/refresh', headers: { origin: from, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-csrf-token' } });
      const allowed = await preflight(origin);
      expect(allowed.statusCode).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe(origin);
      expect(allowed.headers['access-control-allow-credentials']).toBe('true');
      expect(String(allowed.headers['access-control-allow-headers'])).toContain('x-csrf-token');
      const denied = await preflight('https://evil.example.test');
      expect(denied.headers['access-control-allow-origin']).toBeUndefined();
      const simple = await withCors.app.inject({ method: 'GET', url: '/api/v1/datasets', headers: { ...admin, origin } });
      expect(simple.headers['access-control-allow-origin']).toBe(origin);
    } finally {
      await withCors.close();
    }
    const plain = await app.inject({ method: 'GET', url: '/api/v1/datasets', headers: { ...admin, origin } });
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('sluice-control-plane users create (real command)', () => {
  it('makes an admin from a password on stdin and prints nothing secret', async () => {
    const env = { ...process.env, SLUICE_STATE_SCHEMA: state.schema, SLUICE_LOG_LEVEL: 'warn' };
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = execFile(process.execPath, [BIN, 'users', 'create', '--admin', '--username', 'first-admin'], { env }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ stdout: out, stderr: err }),
      );
      child.stdin?.end('the first admin password\n');
    });
    const printed = stdout.trim().split('\n').at(-1) ?? '';
    expect(JSON.parse(printed)).toEqual({ username: 'first-admin', role: 'admin' });
    expect(stdout + stderr).not.toContain('the first admin password');
    const { accessToken } = await loginToken('first-admin', 'the first admin password');
    expect((await app.inject({ method: 'GET', url: '/api/v1/users', headers: { authorization: `Bearer ${accessToken}` } })).statusCode).toBe(200);
    expect((await audit('actor=cli')).entries.map((e) => e.action)).toEqual(['user.create']);
  });
});
