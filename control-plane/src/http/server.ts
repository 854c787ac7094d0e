/**
 * The REST API (fastify 5). Every /api route names the least role it needs (`config.role`); one hook
 * authenticates the Bearer key and authorises it, one handler maps errors. /healthz, /readyz, /metrics
 * and /docs are operational surfaces without auth (the server binds 127.0.0.1 by default).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type pg from 'pg';
import { ForbiddenError, UnauthorizedError } from '@sluice/shared/errors';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { roleAllows, type ApiKeyStore, type Principal, type Role } from '../auth/api-keys.ts';
import type { DatasetStore } from '../datasets/dataset-store.ts';
import type { ValidatorCache } from '../datasets/validators.ts';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { dlqRoutes } from './routes/dlq.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestRoutes } from './routes/ingest.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Least role the route needs; routes under /api without it are refused (fail closed). */
    role?: Role;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface ServerDeps {
  pool: pg.Pool;
  datasets: DatasetStore;
  validators: ValidatorCache;
  apiKeys: ApiKeyStore;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  /** Produces to Kafka (acks=all); throws when Kafka is unreachable. */
  produce: (messages: readonly OutgoingMessage[]) => Promise<void>;
  /** Kafka reachability for /readyz and consumer lag for /health. */
  kafka: { ping: () => Promise<void>; lag: () => Promise<Array<{ topic: string; partition: number; lag: number }>> };
  topicPrefix: string;
  maxRecordBytes: number;
  bodyLimitBytes: number;
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger; widening it keeps the instance's default type parameters.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: 1024 * 1024,
    // Validation fills schema defaults (e.g. objectStore.partitionBy) and never strips unknown fields.
    ajv: { customOptions: { useDefaults: true, removeAdditional: false } },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Sluice control plane', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/')) return;
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw UnauthorizedError('missing API key: send Authorization: Bearer <key>');
    const principal = await deps.apiKeys.verify(match[1]);
    if (!principal) throw UnauthorizedError('unknown or revoked API key');
    const needed = request.routeOptions.config.role;
    if (needed === undefined) throw ForbiddenError('route has no role policy');
    if (!roleAllows(principal.role, needed)) throw ForbiddenError(`this needs the ${needed} role; the key has ${principal.role}`);
    request.principal = principal;
  });

  await app.register(datasetRoutes(deps), { prefix: '/api/v1' });
  await app.register(ingestRoutes(deps), { prefix: '/api/v1' });
  await app.register(dlqRoutes(deps), { prefix: '/api/v1' });
  await app.register(healthRoutes(deps));
  return app;
}
