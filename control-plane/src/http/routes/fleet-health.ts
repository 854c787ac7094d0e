/** GET /api/v1/fleet/summary and GET /api/v1/pipeline/health (viewer): see health/fleet-health-services.ts. */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import { fleetSummarySchema, pipelineHealthQuerySchema, pipelineHealthReportSchema } from '@sluice/shared/api/fleet-health';
import type { FleetHealthServices } from '../../health/fleet-health-services.ts';

export function fleetHealthRoutes(services: FleetHealthServices): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/fleet/summary',
      { config: { auth: 'viewer' }, schema: { tags: ['fleet'], summary: 'Agents online / stale / offline, versions, config drift, apply states', response: { 200: fleetSummarySchema, ...errorResponses } } },
      () => services.summary.summary(),
    );

    app.get<{ Querystring: { minutes?: number } }>(
      '/pipeline/health',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['health'],
          summary: 'Per dataset: throughput, validation failures, sink errors, dead-lettered records, consumer lag in records and seconds',
          querystring: pipelineHealthQuerySchema,
          response: { 200: pipelineHealthReportSchema, ...errorResponses },
        },
      },
      (request) => services.pipeline.report(request.query.minutes ?? 60),
    );
    await Promise.resolve();
  };
}
