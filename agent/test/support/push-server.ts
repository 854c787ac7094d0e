/**
 * An http-push source mounted on an agent HTTP server of its own, the way sources/registry.ts mounts it on the
 * agent's: `POST /v1/ingest/<dataset>`, and the WebSocket upgrade on the same path when the source takes
 * streams. For tests of the source alone (no runtime around it).
 */
import { createLogger } from '@sluice/shared/node/logger';
import { AgentHttpServer } from '../../src/http/server.ts';
import type { HttpPushSource } from '../../src/sources/http-push/http-push-source.ts';

export async function servePushSource(source: HttpPushSource): Promise<{ server: AgentHttpServer; port: number }> {
  const server = new AgentHttpServer({
    log: createLogger('test', { level: 'silent' }),
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    status: () => ({}),
    healthy: () => ({ ok: true }),
  });
  server.route('POST', `/v1/ingest/${source.dataset}`, (req, res) => source.handle(req, res));
  const sockets = source.sockets;
  if (sockets) server.upgrade(`/v1/ingest/${source.dataset}`, (req, socket, head) => sockets.upgrade(req, socket, head));
  const { port } = await server.listen('127.0.0.1:0');
  return { server, port };
}
