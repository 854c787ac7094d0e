/** GET /api/v1/audit (admin): the audit log, newest first, filtered and paged (operators/audit-query.ts). */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import { auditPageSchema, auditQuerySchema, type AuditQuery } from '@sluice/shared/api/audit';
import { queryAudit } from '../../operators/audit-query.ts';
import type { ServerDeps } from '../server-deps.ts';

export function auditRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: AuditQuery }>(
      '/audit',
      { config: { auth: 'admin' }, schema: { summary: 'The audit log, filtered and cursor-paged', tags: ['audit'], querystring: auditQuerySchema, response: { 200: auditPageSchema, ...errorResponses } } },
      async (request) => queryAudit(deps.pool, request.query),
    );
    await Promise.resolve();
  };
}
