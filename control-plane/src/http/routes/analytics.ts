/** Analytics queries (viewer): windows from panes and the current minute's counters (analytics/analytics-queries.ts). */
import type { FastifyPluginAsync } from 'fastify';
import {
  aggregatesQuerySchema,
  aggregatesResponseSchema,
  analyticsParamsSchema,
  countersResponseSchema,
  type AggregatesQuery,
  type AggregatesResponse,
  type CountersResponse,
} from '@sluice/shared/api/analytics';
import { errorResponses } from '@sluice/shared/api/error-body';
import { AnalyticsQueries } from '../../analytics/analytics-queries.ts';
import type { ServerDeps } from '../server-deps.ts';

export function analyticsRoutes(deps: Pick<ServerDeps, 'pool' | 'datasets'>): FastifyPluginAsync {
  const queries = new AnalyticsQueries({ pool: deps.pool, datasets: deps.datasets });
  return async (app) => {
    app.get<{ Params: { dataset: string }; Querystring: AggregatesQuery; Reply: AggregatesResponse }>(
      '/analytics/:dataset/aggregates',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['analytics'],
          summary: "Tumbling, hopping or rolling windows of a dataset's aggregation, merged from its 1-minute panes (paginated)",
          params: analyticsParamsSchema,
          querystring: aggregatesQuerySchema,
          response: { 200: aggregatesResponseSchema, ...errorResponses },
        },
      },
      (request) => queries.aggregates(request.params.dataset, request.query),
    );
    app.get<{ Params: { dataset: string }; Reply: CountersResponse }>(
      '/analytics/:dataset/counters',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['analytics'],
          summary: "Real-time counters: the current minute's pane of every aggregation and group",
          params: analyticsParamsSchema,
          response: { 200: countersResponseSchema, ...errorResponses },
        },
      },
      (request) => queries.counters(request.params.dataset),
    );
    await Promise.resolve();
  };
}
