/**
 * Operator sessions against real PostgreSQL (the test's own state schema): login, refresh-token rotation and
 * reuse detection, logout, the browser cookie + CSRF path, per-username lockout and per-address rate limit,
 * access-token expiry, foreign and unknown signing keys, and key rotation across two "processes" (two service
 * sets on one database). Time is driven by an injected clock.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { withTransaction } from '../src/db/transaction.ts';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/operators/access-tokens.ts';
import { createOperatorServices, type OperatorServices } from '../src/operators/operator-services.ts';
import { freshState } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;
let operators: OperatorServices;
let clock = Date.now();
const now = (): number => clock;
const TTL = 600;
const PASSWORD = 'correct horse battery staple';

interface SessionBody {
  accessToken: string;
  refreshToken?: string;
  csrfToken?: string;
  expiresAt: string;
  user: { username: string; role: string };
}

async function makeUser(username: string, role: 'viewer' | 'operator' | 'admin' = 'operator'): Promise<void> {
  await withTransaction(state.pool, (client) => operators.users.create(client, { username, password: PASSWORD, role }));
}

function login(username: string, password = PASSWORD, client: 'token' | 'browser' = 'token', ip = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password, client }, remoteAddress: ip });
}

const refreshWith = (refreshToken: string) => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });

async function auditActions(target: string): Promise<string[]> {
  const rows = await state.pool.query<{ action: string }>("SELECT action FROM audit_log WHERE target_kind = 'user' AND target_id = $1 ORDER BY id", [target]);
  return rows.rows.map((r) => r.action);
}

beforeAll(async () => {
  state = await freshState();
  // Generous per-address rate: these tests all log in from one address; the rate limit has its own test.
  operators = createOperatorServices(state.pool, { jwtTtlSeconds: TTL, loginRatePerMinute: 10_000, loginMaxFailures: 5, loginLockoutSeconds: 900 }, { now });
  server = await testServer(state.pool, { operators, fleet: undefined, policies: undefined, fleetHealth: undefined });
  app = server.app;
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

describe('login, refresh, logout (bearer clients)', () => {
  it('logs in, serves the access token, and rotates the refresh token on every use', async () => {
    await makeUser('rita');
    const first = await login('rita');
    expect(first.statusCode, first.body).toBe(200);
    const session = first.json<SessionBody>();
    expect(session.user).toEqual({ username: 'rita', role: 'operator' });
    expect(session.csrfToken).toBeUndefined();
    expect(first.headers['set-cookie']).toBeUndefined();
    expect((await me(session.accessToken)).json()).toEqual({ kind: 'user', id: 'rita', name: 'rita', role: 'operator' });

    const second = await refreshWith(session.refreshToken!);
    expect(second.statusCode, second.body).toBe(200);
    const rotated = second.json<SessionBody>();
    expect(rotated.refreshToken).not.toBe(session.refreshToken);
    expect((await me(rotated.accessToken)).statusCode).toBe(200);
    // Stored hashed only.
    const stored = await state.pool.query<{ token_hash: string }>('SELECT token_hash FROM refresh_tokens');
    expect(JSON.stringify(stored.rows)).not.toContain(rotated.refreshToken);
  });

  it('revokes the whole family when a rotated-out refresh token is used again, and audits it', async () => {
    await makeUser('reuse-victim');
    const session = (await login('reuse-victim')).json<SessionBody>();
    const next = (await refreshWith(session.refreshToken!)).json<SessionBody>();
    const reuse = await refreshWith(session.refreshToken!);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json<{ error: { message: string } }>().error.message).toMatch(/reused/);
    // The holder of the newest token of that family is out too.
    expect((await refreshWith(next.refreshToken!)).statusCode).toBe(401);
    expect(await auditActions('reuse-victim')).toEqual(['auth.login', 'auth.refresh-reuse']);
    // Another login of the same user is a family of its own and unaffected.
    const other = (await login('reuse-victim')).json<SessionBody>();
    expect((await refreshWith(other.refreshToken!)).statusCode).toBe(200);
  });

  it('logout revokes the family', async () => {
    await makeUser('leaver');
    const session = (await login('leaver')).json<SessionBody>();
    const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refreshToken: session.refreshToken } });
    expect(out.statusCode).toBe(200);
    expect((await refreshWith(session.refreshToken!)).statusCode).toBe(401);
    expect(await auditActions('leaver')).toEqual(['auth.login', 'auth.logout']);
  });

  it('refuses a wrong password and an unknown user alike, and a refresh of a disabled user', async () => {
    await makeUser('soon-gone');
    const wrong = await login('soon-gone', 'not the password at all');
    const unknown = await login('nobody-here', PASSWORD);
    expect([wrong.statusCode, unknown.statusCode]).toEqual([401, 401]);
    expect(wrong.json()).toEqual(unknown.json());
    const session = (await login('soon-gone')).json<SessionBody>();
    await withTransaction(state.pool, (client) => operators.users.disable(client, 'soon-gone'));
    expect((await refreshWith(session.refreshToken!)).statusCode).toBe(401);
    expect((await login('soon-gone')).statusCode).toBe(401);
  });
});

describe('browser sessions: HttpOnly cookie plus CSRF token', () => {
  const cookieOf = (res: LightMyRequestResponse): string => {
    const header = res.headers['set-cookie'];
    return String(Array.isArray(header) ? header[0] : header);
  };
  const tokenIn = (setCookie: string): string => /sluice_refresh=([^;]*)/.exec(setCookie)![1]!;
  const refreshByCookie = (cookie: string, csrf?: string) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/refresh', headers: { cookie: `sluice_refresh=${cookie}`, ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }) } });

  it('sets a strict, HttpOnly cookie scoped to /api/v1/auth and never puts the refresh token in the body', async () => {
    await makeUser('browser-user');
    const res = await login('browser-user', PASSWORD, 'browser');
    expect(res.statusCode).toBe(200);
    const body = res.json<SessionBody>();
    expect(body.refreshToken).toBeUndefined();
    expect(body.csrfToken).toMatch(/^[\w-]{40,}$/);
    const cookie = cookieOf(res);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/api\/v1\/auth/);
    // Plain http here: Secure would make the browser drop the cookie.
    expect(cookie).not.toMatch(/Secure/);
  });

  it('refuses a cookie refresh without or with a wrong CSRF token (403) without burning the token, then rotates both', async () => {
    await makeUser('csrf-user');
    const res = await login('csrf-user', PASSWORD, 'browser');
    const { csrfToken } = res.json<SessionBody>();
    const token = tokenIn(cookieOf(res));
    expect((await refreshByCookie(token)).statusCode).toBe(403);
    expect((await refreshByCookie(token, 'forged-csrf-token')).statusCode).toBe(403);
    const ok = await refreshByCookie(token, csrfToken);
    expect(ok.statusCode, ok.body).toBe(200);
    const next = ok.json<SessionBody>();
    expect(next.csrfToken).not.toBe(csrfToken);
    const nextToken = tokenIn(cookieOf(ok));
    // The old CSRF token no longer goes with the family.
    expect((await refreshByCookie(nextToken, csrfToken)).statusCode).toBe(403);
    const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: `sluice_refresh=${nextToken}`, 'x-csrf-token': next.csrfToken! } });
    expect(out.statusCode).toBe(200);
    expect(cookieOf(out)).toMatch(/sluice_refresh=;.*Expires=Thu, 01 Jan 1970/);
    expect((await refreshByCookie(nextToken, next.csrfToken)).statusCode).toBe(401);
  });

  it('a bearer client refresh token cannot be used as a cookie (no CSRF family)', async () => {
    await makeUser('token-in-cookie');
    const session = (await login('token-in-cookie')).json<SessionBody>();
    expect((await refreshByCookie(session.refreshToken!, 'anything')).statusCode).toBe(403);
  });
});

describe('lockout and rate limit', () => {
  it('locks a username after 5 failures: 429 with Retry-After even with the right password, audited once', async () => {
    await makeUser('target');
    for (let i = 0; i < 5; i++) expect((await login('target', `wrong password ${i}!`)).statusCode).toBe(401);
    const locked = await login('target');
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    const wrongWhileLocked = await login('target', 'still the wrong one');
    expect(wrongWhileLocked.statusCode).toBe(429);
    expect(wrongWhileLocked.json()).toEqual(locked.json());
    expect(await auditActions('target')).toEqual(['auth.lockout']);
    // The lock is in PostgreSQL: a second process refuses too.
    const other = await testServer(state.pool, { operators: createOperatorServices(state.pool, {}, { now }), fleet: undefined, policies: undefined, fleetHealth: undefined });
    try {
      const res = await other.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'target', password: PASSWORD, client: 'token' } });
      expect(res.statusCode).toBe(429);
    } finally {
      await other.close();
    }
    // After the lockout the right password works again.
    clock += 901_000;
    expect((await login('target')).statusCode).toBe(200);
  });

  it('limits login attempts per client address (in memory), whatever the username', async () => {
    const limited = await testServer(state.pool, { operators: createOperatorServices(state.pool, { loginRatePerMinute: 3 }, { now }), fleet: undefined, policies: undefined, fleetHealth: undefined });
    try {
      const attempt = (username: string, ip: string) =>
        limited.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: 'wrong password!!', client: 'token' }, remoteAddress: ip });
      for (const user of ['a1', 'a2', 'a3']) expect((await attempt(user, '10.0.0.7')).statusCode).toBe(401);
      const refused = await attempt('a4', '10.0.0.7');
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBeDefined();
      expect((await attempt('a4', '10.0.0.8')).statusCode).toBe(401);
    } finally {
      await limited.close();
    }
  });
});

describe('access tokens and signing keys', () => {
  it('refuses an expired access token', async () => {
    await makeUser('short-lived');
    const session = (await login('short-lived')).json<SessionBody>();
    expect((await me(session.accessToken)).statusCode).toBe(200);
    clock += (TTL + 1) * 1000;
    const expired = await me(session.accessToken);
    expect(expired.statusCode).toBe(401);
    expect(expired.json<{ error: { message: string } }>().error.message).toMatch(/expired/);
  });

  it('refuses a token signed by an unknown kid, and one claiming a known kid but signed by another key', async () => {
    await makeUser('forger', 'admin');
    const { kid } = await operators.signingKeys.current();
    const { privateKey } = generateKeyPairSync('ed25519');
    const forge = (withKid: string) =>
      new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'EdDSA', kid: withKid })
        .setSubject('forger')
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(Math.floor(clock / 1000))
        .setExpirationTime(Math.floor(clock / 1000) + 60)
        .sign(privateKey);
    const unknown = await me(await forge('no-such-key'));
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json<{ error: { message: string } }>().error.message).toMatch(/unknown or expired key/);
    const wrongKey = await me(await forge(kid));
    expect(wrongKey.statusCode).toBe(401);
    expect(wrongKey.json<{ error: { message: string } }>().error.message).toMatch(/invalid access token/);
  });

  it('rotates keys: old tokens stay valid until they expire, the JWKS keeps the old key that long, and another process verifies both', async () => {
    await makeUser('rotator');
    const before = (await login('rotator')).json<SessionBody>();
    const oldKid = (await operators.signingKeys.current()).kid;
    const newKid = await operators.signingKeys.rotate();
    expect(newKid).not.toBe(oldKid);
    const after = (await login('rotator')).json<SessionBody>();
    const kidOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    expect([kidOf(before.accessToken), kidOf(after.accessToken)]).toEqual([oldKid, newKid]);
    expect((await me(before.accessToken)).statusCode).toBe(200);

    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{ keys: Array<{ kid: string; kty: string; crv: string; d?: string }> }>();
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    for (const key of jwks.keys) expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.keys.some((k) => k.d !== undefined)).toBe(false);

    const otherProcess = await testServer(state.pool, { operators: createOperatorServices(state.pool, { jwtTtlSeconds: TTL }, { now }), fleet: undefined, policies: undefined, fleetHealth: undefined });
    try {
      for (const token of [before.accessToken, after.accessToken]) {
        expect((await otherProcess.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
      }
    } finally {
      await otherProcess.close();
    }

    clock += (TTL + 1) * 1000;
    const later = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{ keys: Array<{ kid: string }> }>();
    expect(later.keys.map((k) => k.kid)).toEqual([newKid]);
    expect((await me(before.accessToken)).statusCode).toBe(401);
  });

  it('encrypts private keys at rest when SLUICE_JWT_SECRET is set, and refuses to sign with the wrong secret', async () => {
    const own = await freshState();
    try {
      const sealed = createOperatorServices(own.pool, { jwtSecret: 'a secret of the deployment' });
      await sealed.signingKeys.current();
      const stored = await own.pool.query<{ private_key: string }>('SELECT private_key FROM jwt_signing_keys');
      expect(stored.rows[0]!.private_key).toMatch(/^enc:v1:/);
      expect(stored.rows[0]!.private_key).not.toMatch(/PRIVATE KEY/);
      await expect(createOperatorServices(own.pool, { jwtSecret: 'another secret' }).signingKeys.current()).rejects.toThrow(/SLUICE_JWT_SECRET differs/);
      await expect(createOperatorServices(own.pool).signingKeys.current()).rejects.toThrow(/set SLUICE_JWT_SECRET/);
    } finally {
      await own.drop();
    }
  });

  it('keeps API keys working beside access tokens', async () => {
    const created = await new ApiKeyStore(state.pool).create('viewer', 'probe');
    expect((await me(created.key)).json()).toMatchObject({ kind: 'apiKey', id: created.id, role: 'viewer' });
  });
});
