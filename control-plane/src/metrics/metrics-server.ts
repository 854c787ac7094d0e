/**
 * The consumer's own HTTP listener: /metrics for Prometheus and /healthz for probes, behind the same API
 * keys and roles as the REST API (viewer). The consumer counts what it loads, so only it can serve those
 * counters: each `consume` process is a scrape target of its own.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@sluice/shared/node/logger';
import type { ApiKeyStore } from '../auth/api-keys.ts';
import { addAuth } from '../http/auth.ts';
import { errorHandler, notFoundHandler } from '../http/error-handler.ts';
import type { ControlPlaneMetrics } from './metrics.ts';

export interface MetricsServer {
  /** `http://host:port` actually bound (the port is chosen by the OS when configured as 0). */
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(options: {
  host: string;
  port: number;
  apiKeys: ApiKeyStore;
  metrics: ControlPlaneMetrics;
  logger: Logger;
}): Promise<MetricsServer> {
  const loggerInstance: FastifyBaseLogger = options.logger;
  // Scrapes every few seconds would flood the log at info; failures are still logged by the error handler.
  const app: FastifyInstance = Fastify({ loggerInstance, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1024 });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  addAuth(app, { apiKeys: options.apiKeys });
  app.get('/healthz', { config: { auth: 'viewer', liveness: true } }, () => ({ status: 'ok' }));
  app.get('/metrics', { config: { auth: 'viewer' } }, async (_request, reply) => {
    const text = await options.metrics.registry.metrics();
    return reply.header('content-type', options.metrics.registry.contentType).send(text);
  });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  options.logger.info({ address: url }, 'consumer metrics listening (/metrics, /healthz)');
  return { url, close: () => app.close() };
}
