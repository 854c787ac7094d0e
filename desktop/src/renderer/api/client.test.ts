import { describe, expect, it } from 'vitest';
import { ResponseError } from '@sluice/shared/api/response-error';
import type { ApiNetworkFailure, ApiRequest, ApiResponse } from '../../common/ipc.ts';
import { ApiClient } from './client.ts';
import { ConnectionError } from './connection-error.ts';
import { browserKeeper, desktopKeeper } from './session-keeper.ts';
import type { Transport } from './transport.ts';

type Answer = ApiResponse | ApiNetworkFailure;
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({ kind: 'response', status, statusText: '', headers, body: JSON.stringify(body) });
const errorBody = (name: string, message: string) => ({ error: { name, message } });

const NOW = Date.parse('2026-12-02T10:00:00Z');
const session = (accessToken: string, extra: Record<string, unknown> = {}) => ({
  user: { username: 'alice', role: 'operator' },
  accessToken,
  tokenType: 'Bearer',
  expiresAt: new Date(NOW + 600_000).toISOString(),
  refreshExpiresAt: new Date(NOW + 7 * 86_400_000).toISOString(),
  csrfToken: `csrf-${accessToken}`,
  ...extra,
});

/** A control plane as a script of answers per path; every request is recorded. */
function scripted(routes: Record<string, Answer[]>): Transport & { sent: ApiRequest[] } {
  const sent: ApiRequest[] = [];
  return {
    sent,
    send(request) {
      sent.push(request);
      const path = new URL(request.url, 'http://cp').pathname;
      const answer = routes[path]?.shift();
      if (!answer) throw new Error(`unexpected request ${request.method} ${path}`);
      return Promise.resolve(answer);
    },
  };
}

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k), clear: () => m.clear(), key: () => null, length: 0 };
}

function client(transport: Transport, extra: { lost?: () => void; waits?: number[]; now?: () => number } = {}) {
  return new ApiClient({
    baseUrl: '',
    transport,
    keeper: browserKeeper(memoryStorage()),
    onSessionLost: extra.lost,
    now: extra.now ?? (() => NOW),
    sleep: (ms) => {
      extra.waits?.push(ms);
      return Promise.resolve();
    },
  });
}

describe('ApiClient', () => {
  it('logs in as a browser client and sends the access token on every call', async () => {
    const t = scripted({ '/api/v1/auth/login': [json(200, session('a1'))], '/api/v1/agents': [json(200, { items: [] })] });
    const c = client(t);
    expect(await c.login('alice', 'pw')).toEqual({ username: 'alice', role: 'operator' });
    expect(JSON.parse(t.sent[0]!.body!)).toEqual({ username: 'alice', password: 'pw', client: 'browser' });
    expect(t.sent[0]!.headers.authorization).toBeUndefined();
    await c.get('/api/v1/agents', { status: 'online', label: ['site:a', 'role:gw'] });
    expect(t.sent[1]!.url).toBe('/api/v1/agents?status=online&label=site%3Aa&label=role%3Agw');
    expect(t.sent[1]!.headers.authorization).toBe('Bearer a1');
  });

  it('turns error bodies into the named error: wrong password, lockout with its wait, not found', async () => {
    const t = scripted({
      '/api/v1/auth/login': [json(401, errorBody('UnauthorizedError', 'wrong username or password')), json(429, errorBody('TooManyRequestsError', 'locked'), { 'retry-after': '900' })],
    });
    const c = client(t);
    const wrong = await c.login('alice', 'bad').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ResponseError);
    expect(wrong).toMatchObject({ name: 'UnauthorizedError', status: 401, message: 'wrong username or password' });
    await expect(c.login('alice', 'bad')).rejects.toMatchObject({ name: 'TooManyRequestsError', retryAfterSeconds: 900 });
  });

  it('on 401 refreshes once (cookie + CSRF token) and repeats the call', async () => {
    const t = scripted({
      '/api/v1/auth/login': [json(200, session('a1'))],
      '/api/v1/agents': [json(401, errorBody('UnauthorizedError', 'access token expired')), json(200, { items: [1] })],
      '/api/v1/auth/refresh': [json(200, session('a2'))],
    });
    const c = client(t);
    await c.login('alice', 'pw');
    expect(await c.get('/api/v1/agents')).toEqual({ items: [1] });
    const refresh = t.sent.find((r) => r.url === '/api/v1/auth/refresh')!;
    expect(refresh.headers['x-csrf-token']).toBe('csrf-a1');
    expect(refresh.body).toBeUndefined();
    expect(t.sent.at(-1)!.headers.authorization).toBe('Bearer a2');
  });

  it('shares one refresh between calls that fail together', async () => {
    const t = scripted({
      '/api/v1/auth/login': [json(200, session('a1'))],
      '/api/v1/agents': [json(401, errorBody('UnauthorizedError', 'expired')), json(401, errorBody('UnauthorizedError', 'expired')), json(200, {}), json(200, {})],
      '/api/v1/auth/refresh': [json(200, session('a2'))],
    });
    const c = client(t);
    await c.login('alice', 'pw');
    await Promise.all([c.get('/api/v1/agents'), c.get('/api/v1/agents')]);
    expect(t.sent.filter((r) => r.url === '/api/v1/auth/refresh')).toHaveLength(1);
  });

  it('when the refresh is refused too, the login is over: onSessionLost, and the call fails with the 401', async () => {
    let lost = 0;
    const t = scripted({
      '/api/v1/auth/login': [json(200, session('a1'))],
      '/api/v1/agents': [json(401, errorBody('UnauthorizedError', 'expired'))],
      '/api/v1/auth/refresh': [json(401, errorBody('UnauthorizedError', 'refresh token reused; the login is revoked'))],
    });
    const c = client(t, { lost: () => lost++ });
    await c.login('alice', 'pw');
    await expect(c.get('/api/v1/agents')).rejects.toMatchObject({ name: 'UnauthorizedError' });
    expect(lost).toBe(1);
    expect(c.user).toBeUndefined();
  });

  it('refreshes silently before a call when the access token is about to expire', async () => {
    let now = NOW;
    const t = scripted({ '/api/v1/auth/login': [json(200, session('a1'))], '/api/v1/auth/refresh': [json(200, session('a2'))], '/api/v1/agents': [json(200, {})] });
    const c = client(t, { now: () => now });
    await c.login('alice', 'pw');
    now = NOW + 590_000;
    await c.get('/api/v1/agents');
    expect(t.sent.map((r) => r.url)).toEqual(['/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/agents']);
    expect(t.sent[2]!.headers.authorization).toBe('Bearer a2');
  });

  it('retries a 503 after its Retry-After, a few times, then gives up with UnavailableError', async () => {
    const waits: number[] = [];
    const down = json(503, errorBody('UnavailableError', 'PostgreSQL is down'), { 'retry-after': '2' });
    const t = scripted({ '/api/v1/agents': [down, json(502, 'bad gateway'), json(200, { ok: true })] });
    const c = client(t, { waits });
    expect(await c.get('/api/v1/agents')).toEqual({ ok: true });
    expect(waits).toEqual([2000, 1000]);
    const t2 = scripted({ '/api/v1/agents': [down, down, down, down] });
    await expect(client(t2, { waits }).get('/api/v1/agents')).rejects.toMatchObject({ name: 'UnavailableError', status: 503 });
    expect(t2.sent).toHaveLength(4);
  });

  it('does not retry other errors, and says when there was no answer at all', async () => {
    const t = scripted({ '/api/v1/agents/x': [json(404, errorBody('NotFoundError', 'no agent x'))], '/api/v1/agents': [{ kind: 'network-failure', reason: 'tls', message: 'net::ERR_CERT_AUTHORITY_INVALID' }] });
    const c = client(t);
    await expect(c.get('/api/v1/agents/x')).rejects.toMatchObject({ name: 'NotFoundError', message: 'no agent x' });
    const failure = await c.get('/api/v1/agents').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConnectionError);
    expect(failure).toMatchObject({ reason: 'tls' });
  });

  it('resumes an earlier login without the password, and logs out revoking it', async () => {
    const storage = memoryStorage();
    storage.setItem('sluice.csrf', 'csrf-old');
    const t = scripted({ '/api/v1/auth/refresh': [json(200, session('a3'))], '/api/v1/auth/logout': [json(200, { loggedOut: true })] });
    const c = new ApiClient({ baseUrl: '', transport: t, keeper: browserKeeper(storage), now: () => NOW });
    expect(await c.resume()).toEqual({ username: 'alice', role: 'operator' });
    await c.logout();
    expect(t.sent.at(-1)!.headers['x-csrf-token']).toBe('csrf-a3');
    expect(storage.getItem('sluice.csrf')).toBeNull();
    expect(await new ApiClient({ baseUrl: '', transport: t, keeper: browserKeeper(storage) }).resume()).toBeUndefined();
  });

  it('as the desktop app, logs in as a token client and hands the refresh token to main', async () => {
    const saved: string[] = [];
    const bridge = {
      servers: { list: () => Promise.resolve([]), remember: () => Promise.resolve([]), forget: () => Promise.resolve([]) },
      tokens: { load: () => Promise.resolve(null), save: (_u: string, token: string) => {
          saved.push(token);
          return Promise.resolve(null);
        }, clear: () => Promise.resolve(null) },
      api: { request: () => Promise.reject(new Error('unused')) },
    };
    const t = scripted({ '/api/v1/auth/login': [json(200, session('a1', { refreshToken: 'slr_1', csrfToken: undefined }))], '/api/v1/auth/refresh': [json(200, session('a2', { refreshToken: 'slr_2' }))] });
    const c = new ApiClient({ baseUrl: 'https://cp.example.com', transport: t, keeper: desktopKeeper(bridge, 'https://cp.example.com'), now: () => NOW });
    await c.login('alice', 'pw');
    expect(t.sent[0]!.url).toBe('https://cp.example.com/api/v1/auth/login');
    expect(JSON.parse(t.sent[0]!.body!)).toMatchObject({ client: 'token' });
    await c.resume();
    expect(JSON.parse(t.sent[1]!.body!)).toEqual({ refreshToken: 'slr_1' });
    expect(saved).toEqual(['slr_1', 'slr_2']);
  });
});
