/**
 * `npm start`'s console login (scripts/fleet-bootstrap.ts ensureConsoleUser) against a real control plane on
 * PostgreSQL: user `admin` is made once with a generated password kept in a 0600 file, that password logs in
 * to the console, a second start changes nothing, a control plane with new state gets the same login again,
 * and an `admin` made by someone else is left alone.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../control-plane/src/auth/api-keys.ts';
import { freshState } from '../../control-plane/test/support/state.ts';
import { testServer, type TestServer } from '../../control-plane/test/support/test-server.ts';
import { Api, CONSOLE_USER, ensureConsoleUser } from '../fleet-bootstrap.ts';

const ADMIN_KEY = 'console-login-test-bootstrap-admin-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'sluice-console-login-'));
const loginFile = join(dir, 'console-login');
const opened: Array<{ server: TestServer; state: Awaited<ReturnType<typeof freshState>> }> = [];

/** A control plane with state of its own, listening on a port, as npm start runs it. */
async function controlPlane(): Promise<{ api: Api; url: string; server: TestServer }> {
  const state = await freshState();
  await new ApiKeyStore(state.pool).bootstrapAdmin(ADMIN_KEY);
  const server = await testServer(state.pool);
  opened.push({ server, state });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return { api: new Api(url, ADMIN_KEY), url, server };
}

const passwordOf = (file: string): string => /^password: (.+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? '';

async function login(url: string, password: string): Promise<{ status: number; role?: string }> {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: CONSOLE_USER, password, client: 'token' }) });
  const body = (await res.json()) as { user?: { role: string } };
  return { status: res.status, ...(body.user ? { role: body.user.role } : {}) };
}

let first: Awaited<ReturnType<typeof controlPlane>>;

beforeAll(async () => {
  first = await controlPlane();
});

afterAll(async () => {
  for (const { server, state } of opened) {
    await server.close();
    await state.drop();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start console login', () => {
  it('makes user admin once, its password only in a 0600 file, and that password logs in', async () => {
    const said = await ensureConsoleUser(first.api, loginFile);
    expect(said).toBe(`console user admin (admin) created; its password is in ${loginFile}`);
    const password = passwordOf(loginFile);
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(said).not.toContain(password);
    expect(statSync(loginFile).mode & 0o777).toBe(0o600);
    expect(existsSync(`${loginFile}.new`)).toBe(false);
    expect(await login(first.url, password)).toEqual({ status: 200, role: 'admin' });

    expect(await ensureConsoleUser(first.api, loginFile)).toBe(`console login: user admin, password in ${loginFile}`);
    expect(passwordOf(loginFile)).toBe(password);
    const audit = await first.server.app.inject({ url: '/api/v1/audit?action=user.create&targetId=admin', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(audit.json<{ entries: unknown[] }>().entries).toHaveLength(1);
  });

  it('gives a control plane with new state the same login, and leaves an admin it did not make alone', async () => {
    const renewed = await controlPlane();
    const password = passwordOf(loginFile);
    expect(await ensureConsoleUser(renewed.api, loginFile)).toMatch(/made again/);
    expect(await login(renewed.url, password)).toEqual({ status: 200, role: 'admin' });

    const other = await controlPlane();
    const theirs = await other.api.call('POST', '/api/v1/users', { username: CONSOLE_USER, password: 'somebody else chose this', role: 'admin' });
    expect(theirs.status).toBe(201);
    const elsewhere = join(dir, 'other-login');
    expect(await ensureConsoleUser(other.api, elsewhere)).toMatch(/exists, but .* is gone/);
    expect(existsSync(elsewhere)).toBe(false);
    expect((await login(other.url, 'somebody else chose this')).status).toBe(200);
  });
});
