/** Anomalies of a dataset (viewer), and their gauges on /metrics (analytics/anomaly-queries.ts, metrics/anomaly-gauges.ts). */
import type { FastifyPluginAsync } from 'fastify';
import { anomaliesQuerySchema, anomaliesResponseSchema, analyticsParamsSchema, type AnomaliesQuery, type AnomaliesResponse } from '@sluice/shared/api/analytics';
import { errorResponses } from '@sluice/shared/api/error-body';
import { queryAnomalies } from '../../analytics/anomaly-queries.ts';
import { registerAnomalyGauges } from '../../metrics/anomaly-gauges.ts';
import type { ServerDeps } from '../server-deps.ts';

export function anomalyRoutes(deps: Pick<ServerDeps, 'pool' | 'datasets' | 'metrics'>): FastifyPluginAsync {
  return async (app) => {
    registerAnomalyGauges(deps.metrics.registry, deps.pool);
    app.get<{ Params: { dataset: string }; Querystring: AnomaliesQuery; Reply: AnomaliesResponse }>(
      '/analytics/:dataset/anomalies',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['analytics'],
          summary: "A dataset's anomalies (volume, per agent, measures, silence) whose window overlaps a time range, newest first (keyset pagination)",
          params: analyticsParamsSchema,
          querystring: anomaliesQuerySchema,
          response: { 200: anomaliesResponseSchema, ...errorResponses },
        },
      },
      (request) => queryAnomalies(deps, request.params.dataset, request.query),
    );
    await Promise.resolve();
  };
}
