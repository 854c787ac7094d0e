/**
 * The REST API (fastify 5). Every route declares who may call it (`config.auth`: a role, 'agent' or
 * 'public'), operational ones (/healthz, /readyz, /metrics, /docs) included: Kubernetes probes and Prometheus
 * can send a header, and an open /metrics or /docs maps the deployment for an attacker. One hook (auth.ts)
 * authenticates and authorises every request against the route's auth, failing closed. One handler maps errors.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import cors from '@fastify/cors';
import swaggerUi from '@fastify/swagger-ui';
import type { RouteAuth } from '../auth/principal.ts';
import { CSRF_HEADER } from '@sluice/shared/api/auth';
import { addAuth } from './auth.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { addJsonDepthLimit } from './json-depth-limit.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { auditRoutes } from './routes/audit.ts';
import { consoleRoutes } from './routes/console.ts';
import { authRoutes, jwksRoutes } from './routes/auth.ts';
import { agentRoutes } from './routes/agents.ts';
import { checkinRoutes } from './routes/checkin.ts';
import { enrollmentRoutes } from './routes/enrollment.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { dlqRoutes } from './routes/dlq.ts';
import { fleetHealthRoutes } from './routes/fleet-health.ts';
import { analyticsRoutes } from './routes/analytics.ts';
import { anomalyRoutes } from './routes/anomalies.ts';
import { alertRoutes } from './routes/alerts.ts';
import { ledgerRoutes } from './routes/ledger.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { policyRoutes } from './routes/policies.ts';
import { rolloutRoutes } from './routes/rollouts.ts';
import { userRoutes } from './routes/users.ts';
import { tableRoutes } from './routes/tables.ts';
import { lookupRoutes } from './routes/lookups.ts';
import { schemaRoutes } from './routes/schema.ts';
import { jobRoutes } from './routes/jobs.ts';
import { registerFleetGauges } from '../metrics/fleet-gauges.ts';
import type { ServerDeps } from './server-deps.ts';

/** Dataset specs and schemas are small: 1 MiB bounds every non-ingest body. */
export const CONTROL_BODY_LIMIT_BYTES = 1024 * 1024;

/** Routes that plugins register (they cannot declare auth themselves), by path prefix. */
const PLUGIN_ROUTE_AUTH: ReadonlyArray<{ prefix: string; auth: RouteAuth }> = [{ prefix: '/docs', auth: 'viewer' }];

interface RouteEntry {
  method: string;
  url: string;
  route: { config?: { auth?: RouteAuth | undefined } | undefined; schema?: object | undefined };
}

/** The parts of a route's schema the route table passes on (the API reference and the schema tests read them). */
export interface RouteSchema {
  hide?: boolean | undefined;
  tags?: readonly string[] | undefined;
  summary?: string | undefined;
  description?: string | undefined;
  params?: unknown;
  querystring?: unknown;
  body?: unknown;
  response?: Record<string, unknown> | undefined;
}
const ROUTE_TABLES = new WeakMap<FastifyInstance, RouteEntry[]>();

/**
 * Every route `app` registered, with the auth it declares (undefined: refused to everyone), read after
 * the server is built: the route × role test walks it, so a route added later is covered without a table.
 */
export function routeTable(app: FastifyInstance): Array<{ method: string; url: string; auth: RouteAuth | undefined; schema: RouteSchema | undefined }> {
  return (ROUTE_TABLES.get(app) ?? []).map((e) => ({ method: e.method, url: e.url, auth: e.route.config?.auth, schema: e.route.schema }));
}

/** How the server listens: `https` (PEM certificate chain and key) makes it an https server. */
export interface ListenOptions {
  https?: { cert: Buffer; key: Buffer } | undefined;
}

export async function buildServer(deps: ServerDeps, listen: ListenOptions = {}): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger; widening it keeps the instance's default type parameters.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  // Typed as an empty object: fastify's https overload would type the instance as an https one, and no route
  // cares which server carries it (https.Server is an http.Server to them).
  const https: object = listen.https === undefined ? {} : { https: listen.https };
  const app = Fastify({
    loggerInstance,
    bodyLimit: Math.min(CONTROL_BODY_LIMIT_BYTES, deps.bodyLimitBytes),
    // Validation fills schema defaults (e.g. objectStore.partitionBy) and never strips unknown fields.
    ajv: { customOptions: { useDefaults: true, removeAdditional: false } },
    ...https,
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  // Before any plugin registers routes: gives the routes of /docs (swagger-ui, its static files) their auth,
  // and lists every route with the auth it ends up with (routeTable).
  const table: RouteEntry[] = [];
  ROUTE_TABLES.set(app, table);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) table.push({ method, url: route.url, route });
    if (route.config?.auth !== undefined) return;
    const owned = PLUGIN_ROUTE_AUTH.find((p) => route.url === p.prefix || route.url.startsWith(`${p.prefix}/`));
    if (owned) route.config = { ...route.config, auth: owned.auth };
    // @fastify/cors answers preflights in its onRequest hook, before auth; its catch-all OPTIONS route only
    // makes the method routable and must not demand a credential a browser never sends on a preflight.
    else if (route.method === 'OPTIONS' && route.url === '*' && deps.consoleOrigin !== undefined) route.config = { ...route.config, auth: 'public' };
  });
  addJsonDepthLimit(app);

  if (deps.consoleOrigin !== undefined) {
    // One exact origin, with credentials (the refresh cookie); any other origin gets no CORS headers at all.
    await app.register(cors, {
      // A list, not a string: a string would be echoed to every origin; a list answers only a match.
      origin: [deps.consoleOrigin],
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', CSRF_HEADER],
      maxAge: 600,
    });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'Sluice control plane', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  addAuth(app, { apiKeys: deps.apiKeys, agentAuth: deps.agentAuth ?? deps.fleet?.agentAuth, accessTokens: deps.operators.accessTokens });

  await app.register(datasetRoutes(deps), { prefix: '/api/v1' });
  await app.register(ingestRoutes(deps), { prefix: '/api/v1' });
  if (deps.fleet) {
    const fleet = deps.fleet;
    await app.register(enrollmentRoutes(fleet), { prefix: '/api/v1' });
    await app.register(agentRoutes(fleet), { prefix: '/api/v1' });
    await app.register(checkinRoutes(fleet, deps.metrics), { prefix: '/api/v1' });
    // Held long-polls end at once, so closing does not wait out their 30 s.
    app.addHook('preClose', async () => {
      fleet.checkins.close();
      await Promise.resolve();
    });
  }
  if (deps.policies) {
    await app.register(policyRoutes(deps.policies), { prefix: '/api/v1' });
    await app.register(rolloutRoutes(deps.policies), { prefix: '/api/v1' });
  }
  if (deps.fleetHealth) {
    await app.register(fleetHealthRoutes(deps.fleetHealth), { prefix: '/api/v1' });
    registerFleetGauges(deps.metrics.registry, { pool: deps.pool, summary: deps.fleetHealth.summary });
    await app.register(ledgerRoutes(deps.fleetHealth), { prefix: '/api/v1' });
  }
  await app.register(dlqRoutes(deps), { prefix: '/api/v1' });
  await app.register(authRoutes(deps), { prefix: '/api/v1' });
  await app.register(jwksRoutes(deps));
  await app.register(userRoutes(deps), { prefix: '/api/v1' });
  await app.register(apiKeyRoutes(deps), { prefix: '/api/v1' });
  await app.register(auditRoutes(deps), { prefix: '/api/v1' });
  await app.register(tableRoutes(deps), { prefix: '/api/v1' });
  await app.register(lookupRoutes(deps), { prefix: '/api/v1' });
  await app.register(schemaRoutes(deps), { prefix: '/api/v1' });
  await app.register(jobRoutes(deps), { prefix: '/api/v1' });
  await app.register(analyticsRoutes(deps), { prefix: '/api/v1' });
  await app.register(anomalyRoutes(deps), { prefix: '/api/v1' });
  await app.register(alertRoutes(deps), { prefix: '/api/v1' });
  await app.register(healthRoutes(deps));
  await app.register(consoleRoutes(deps.consoleDir));
  return app;
}
