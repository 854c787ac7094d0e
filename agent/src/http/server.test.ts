import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { AgentHttpServer } from './server.ts';

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
    scope.clear();
    const gone = await fetch(`${url}/v1/ingest/app_logs`, { method: 'POST', body: '[]' });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { name: string } }).error.name).toBe('NotFoundError');
    await server.close();
  });
});
