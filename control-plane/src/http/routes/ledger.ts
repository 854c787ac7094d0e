/** GET /api/v1/ledger (viewer): shipped at the edge against loaded per store, per agent × dataset × minute (fleet/ledger.ts). */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import { ledgerQuerySchema, ledgerResponseSchema, type LedgerQuery } from '@sluice/shared/api/ledger';
import type { FleetHealthServices } from '../../health/fleet-health-services.ts';

export function ledgerRoutes(services: FleetHealthServices): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: LedgerQuery }>(
      '/ledger',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['fleet'],
          summary: 'Records shipped by agents against records loaded by each store and dead-lettered, per minute (at most 24 h per request)',
          querystring: ledgerQuerySchema,
          response: { 200: ledgerResponseSchema, ...errorResponses },
        },
      },
      (request) => services.ledger.query(request.query),
    );
    await Promise.resolve();
  };
}
