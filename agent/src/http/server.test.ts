import { describe, expect, it } from 'vitest';
import { ResponseError } from '@sluice/shared/api/response-error';
import { TooManyRequestsError } from '@sluice/shared/errors';
import { createLogger } from '@sluice/shared/node/logger';
import { isLoopbackHost, parseListen } from './listen-address.ts';
import { AgentHttpServer } from './server.ts';

const TOKEN = 'agent-http-token-0123';

function newServer(token?: string): AgentHttpServer {
  return new AgentHttpServer({
    log: createLogger('test', { level: 'silent' }),
    token,
    metrics: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4', body: 'sluice_agent_outbox_rows 0\n' }),
    status: () => ({ agentId: 'a1' }),
    healthy: () => ({ ok: true }),
  });
}

const BUILT_IN = ['/metrics', '/healthz', '/status'];

describe('AgentHttpServer routes', () => {
  it('mounts source routes with params, scopes their removal, and answers 404/405 with the error body', async () => {
    const server = new AgentHttpServer({
      log: createLogger('test', { level: 'silent' }),
      metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
      status: () => ({}),
      healthy: () => ({ ok: true }),
    });
    const address = await server.listen('127.0.0.1:0');
    const url = `http://127.0.0.1:${address.port}`;
    const scope = server.scope();
    scope.route('POST', '/v1/ingest/:dataset', (_req, res, params) => {
      res.end(`got ${params.dataset}`);
    });
    expect(() => server.route('POST', '/v1/ingest/:dataset', () => undefined)).toThrow(/already mounted/);
    expect(await (await fetch(`${url}/v1/ingest/app_logs`, { method: 'POST', body: '[]' })).text()).toBe('got app_logs');
    const wrongMethod = await fetch(`${url}/v1/ingest/app_logs`);
    expect(wrongMethod.status).toBe(405);
    expect((await ResponseError.fromResponse(wrongMethod)).name).toBe('MethodNotAllowedError');
    scope.clear();
    const gone = await fetch(`${url}/v1/ingest/app_logs`, { method: 'POST', body: '[]' });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { name: string } }).error.name).toBe('NotFoundError');
    await server.close();
  });

  it('answers a handler that throws with the one error writer: a named error as itself, anything else 500', async () => {
    const server = newServer();
    const { port } = await server.listen('127.0.0.1:0');
    try {
      server.route('POST', '/busy', () => {
        throw TooManyRequestsError('come back soon', { retryAfterSeconds: 2 });
      });
      server.route('POST', '/broken', () => {
        throw new Error('secret internals');
      });
      const busy = await ResponseError.fromResponse(await fetch(`http://127.0.0.1:${port}/busy`, { method: 'POST' }));
      expect([busy.status, busy.name, busy.message, busy.retryAfterSeconds]).toEqual([429, 'TooManyRequestsError', 'come back soon', 2]);
      const broken = await ResponseError.fromResponse(await fetch(`http://127.0.0.1:${port}/broken`, { method: 'POST' }));
      expect([broken.status, broken.name, broken.message]).toEqual([500, 'BugError', 'internal error']);
    } finally {
      await server.close();
    }
  });
});

describe('AgentHttpServer access', () => {
  it('with a token, answers /metrics, /healthz and /status 401 without it or with a wrong one, 200 with it', async () => {
    const server = newServer(TOKEN);
    const { port } = await server.listen('127.0.0.1:0');
    try {
      for (const path of BUILT_IN) {
        const url = `http://127.0.0.1:${port}${path}`;
        for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer', `Basic ${TOKEN}`, TOKEN]) {
          const res = await fetch(url, { headers: authorization === undefined ? {} : { authorization } });
          expect(res.status, `${path} with ${String(authorization)}`).toBe(401);
          expect(res.headers.get('www-authenticate')).toBe('Bearer');
          expect(((await res.json()) as { error: { name: string } }).error.name).toBe('UnauthorizedError');
        }
        const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
        expect(ok.status, path).toBe(200);
        await ok.text();
      }
    } finally {
      await server.close();
    }
  });

  it('without a token, serves them on loopback and refuses to listen beyond it', async () => {
    const open = newServer();
    const { port } = await open.listen('127.0.0.1:0');
    for (const path of BUILT_IN) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).toBe(200);
    await open.close();
    for (const listen of ['0.0.0.0:0', ':::0', '[::]:0']) {
      await expect(newServer().listen(listen), listen).rejects.toThrow(/http\.token is required when the agent listens beyond loopback/);
    }
  });

  it('keeps the token while listening beyond loopback: a reload cannot remove it', async () => {
    const server = newServer(TOKEN);
    const { port } = await server.listen('0.0.0.0:0');
    try {
      expect(() => server.setToken(undefined)).toThrow(/http\.token is required/);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
      server.setToken('rotated-token-456');
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer rotated-token-456' } })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('leaves source routes to their own authentication (http-push has its own token)', async () => {
    const server = newServer(TOKEN);
    const { port } = await server.listen('127.0.0.1:0');
    server.route('POST', '/v1/ingest/:dataset', (req, res) => {
      res.writeHead(req.headers.authorization === 'Bearer push-token' ? 200 : 403).end();
    });
    try {
      const url = `http://127.0.0.1:${port}/v1/ingest/app`;
      expect((await fetch(url, { method: 'POST', body: '[]', headers: { authorization: 'Bearer push-token' } })).status).toBe(200);
      expect((await fetch(url, { method: 'POST', body: '[]', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(403);
    } finally {
      await server.close();
    }
  });
});

describe('listen addresses', () => {
  it('treats 127.0.0.0/8 and ::1 as loopback, and nothing else (names included)', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', 'localhost', 'agent', '']) expect(isLoopbackHost(host), host).toBe(false);
    expect(parseListen('[::1]:8686')).toEqual({ host: '::1', port: 8686 });
    expect(parseListen('::1:8686')).toEqual({ host: '::1', port: 8686 });
    expect(parseListen(':8686')).toEqual({ host: '127.0.0.1', port: 8686 });
  });
});
