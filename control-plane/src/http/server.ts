/**
 * The REST API (fastify 5). Every route names the least role it needs (`config.role`), operational ones
 * (/healthz, /readyz, /metrics, /docs) included: Kubernetes probes and Prometheus can send a header, and an
 * open /metrics or /docs maps the deployment for an attacker. One hook authenticates the Bearer key of every
 * request and authorises it against the route's role; a route without a role is refused (fail closed), so a
 * route added without thinking about access is unusable rather than open. One handler maps errors.
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
    /** Least role the route needs; a route without one is refused (fail closed). */
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
  /** Largest ingest request body; every other route accepts at most CONTROL_BODY_LIMIT_BYTES (or this, if smaller). */
  bodyLimitBytes: number;
}

/** Dataset specs and schemas are small: 1 MiB bounds every non-ingest body. */
export const CONTROL_BODY_LIMIT_BYTES = 1024 * 1024;

/** Routes that plugins register (they cannot name a role themselves), by path prefix. */
const PLUGIN_ROUTE_ROLES: ReadonlyArray<{ prefix: string; role: Role }> = [{ prefix: '/docs', role: 'viewer' }];

const BEARER = /^Bearer\s+(\S+)$/i;

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger; widening it keeps the instance's default type parameters.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: Math.min(CONTROL_BODY_LIMIT_BYTES, deps.bodyLimitBytes),
    // Validation fills schema defaults (e.g. objectStore.partitionBy) and never strips unknown fields.
    ajv: { customOptions: { useDefaults: true, removeAdditional: false } },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  // Before any plugin registers routes: gives the routes of /docs (swagger-ui, its static files) their role.
  app.addHook('onRoute', (route) => {
    if (route.config?.role !== undefined) return;
    const owned = PLUGIN_ROUTE_ROLES.find((p) => route.url === p.prefix || route.url.startsWith(`${p.prefix}/`));
    if (owned) route.config = { ...route.config, role: owned.role };
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Sluice control plane', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // onRequest runs before the body is read, so an unauthenticated client cannot make the server parse a body.
  // Unknown paths are authenticated too (401 before 404), so probing without a key learns nothing.
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = header === undefined ? null : BEARER.exec(header);
    if (!match?.[1]) throw UnauthorizedError('missing API key: send Authorization: Bearer <key>');
    const principal = await deps.apiKeys.verify(match[1]);
    if (!principal) throw UnauthorizedError('unknown or revoked API key');
    request.principal = principal;
    if (request.is404) return;
    const needed = request.routeOptions.config.role;
    if (needed === undefined) throw ForbiddenError('this route has no role policy, so it is refused');
    if (!roleAllows(principal.role, needed)) throw ForbiddenError(`this needs the ${needed} role; the key has ${principal.role}`);
  });

  await app.register(datasetRoutes(deps), { prefix: '/api/v1' });
  await app.register(ingestRoutes(deps), { prefix: '/api/v1' });
  await app.register(dlqRoutes(deps), { prefix: '/api/v1' });
  await app.register(healthRoutes(deps));
  return app;
}
