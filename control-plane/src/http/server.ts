/**
 * The REST API (fastify 5). Every route names the least role it needs (`config.role`), operational ones
 * (/healthz, /readyz, /metrics, /docs) included: Kubernetes probes and Prometheus can send a header, and an
 * open /metrics or /docs maps the deployment for an attacker. One hook (api-key-auth.ts) authenticates and
 * authorises every request against the route's role, failing closed. One handler maps errors.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Role } from '../auth/api-keys.ts';
import { addApiKeyAuth } from './api-key-auth.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { dlqRoutes } from './routes/dlq.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestRoutes } from './routes/ingest.ts';
import type { ServerDeps } from './server-deps.ts';

/** Dataset specs and schemas are small: 1 MiB bounds every non-ingest body. */
export const CONTROL_BODY_LIMIT_BYTES = 1024 * 1024;

/** Routes that plugins register (they cannot name a role themselves), by path prefix. */
const PLUGIN_ROUTE_ROLES: ReadonlyArray<{ prefix: string; role: Role }> = [{ prefix: '/docs', role: 'viewer' }];

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

  addApiKeyAuth(app, deps.apiKeys);

  await app.register(datasetRoutes(deps), { prefix: '/api/v1' });
  await app.register(ingestRoutes(deps), { prefix: '/api/v1' });
  await app.register(dlqRoutes(deps), { prefix: '/api/v1' });
  await app.register(healthRoutes(deps));
  return app;
}
