/**
 * /api/v1/api-keys (admin): keys for machines (probes, Prometheus, scripts). A new key is answered once and
 * stored as its sha256; lists show id, name, role and dates, never the key. Each change is audited in its
 * transaction.
 */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import { apiKeyIdParams, apiKeyListSchema, apiKeySchema, createApiKeyBodySchema, createdApiKeySchema, type CreateApiKeyBody } from '@sluice/shared/api/users';
import { withTransaction } from '../../db/transaction.ts';
import { actorOf, recordAudit } from '../../operators/audit.ts';
import type { ServerDeps } from '../server-deps.ts';

export function apiKeyRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: CreateApiKeyBody }>(
      '/api-keys',
      { config: { auth: 'admin' }, schema: { summary: 'Create an API key (shown once)', tags: ['api-keys'], body: createApiKeyBodySchema, response: { 201: createdApiKeySchema, ...errorResponses } } },
      async (request, reply) => {
        const created = await withTransaction(deps.pool, async (client) => {
          const key = await deps.apiKeys.create(request.body.role, request.body.name, client);
          await recordAudit(client, {
            actor: actorOf(request),
            action: 'apikey.create',
            target: { kind: 'apiKey', id: key.id },
            after: { id: key.id, name: key.name, role: key.role },
            requestId: request.id,
          });
          return key;
        });
        return reply.code(201).send(created);
      },
    );

    app.get('/api-keys', { config: { auth: 'admin' }, schema: { summary: 'List API keys', tags: ['api-keys'], response: { 200: apiKeyListSchema, ...errorResponses } } }, async () => ({
      apiKeys: await deps.apiKeys.list(),
    }));

    app.post<{ Params: { id: string } }>(
      '/api-keys/:id/revoke',
      { config: { auth: 'admin' }, schema: { summary: 'Revoke an API key', tags: ['api-keys'], params: apiKeyIdParams, response: { 200: apiKeySchema, ...errorResponses } } },
      async (request) =>
        withTransaction(deps.pool, async (client) => {
          const { before, after } = await deps.apiKeys.revoke(client, request.params.id);
          await recordAudit(client, { actor: actorOf(request), action: 'apikey.revoke', target: { kind: 'apiKey', id: after.id }, before, after, requestId: request.id });
          return after;
        }),
    );
    await Promise.resolve();
  };
}
