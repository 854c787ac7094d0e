/** Analytics queries (viewer): windows from panes and the current minute's counters (analytics/analytics-queries.ts). */
import type { FastifyPluginAsync } from 'fastify';
import {
  aggregatesQuerySchema,
  aggregatesResponseSchema,
  analyticsParamsSchema,
  countersResponseSchema,
  recordsQuerySchema,
  recordsResponseSchema,
  type RecordsQuery,
  type RecordsResponse,
  type AggregatesQuery,
  type AggregatesResponse,
  type CountersResponse,
} from '@sluice/shared/api/analytics';
import { errorResponses } from '@sluice/shared/api/error-body';
import { AnalyticsQueries } from '../../analytics/analytics-queries.ts';
import { queryRecords } from '../../analytics/record-queries.ts';
import { dataSchemaOf, type ServerDeps } from '../server-deps.ts';

export function analyticsRoutes(deps: Pick<ServerDeps, 'pool' | 'datasets' | 'dataSchema'>): FastifyPluginAsync {
  const queries = new AnalyticsQueries({ pool: deps.pool, datasets: deps.datasets });
  const records = { pool: deps.pool, datasets: deps.datasets, dataSchema: dataSchemaOf(deps) };
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
    app.get<{ Params: { dataset: string }; Querystring: RecordsQuery; Reply: RecordsResponse }>(
      '/analytics/:dataset/records',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['analytics'],
          summary: "A dataset's records by event-time range and filters on typed columns, from its PostgreSQL table (keyset pagination)",
          params: analyticsParamsSchema,
          querystring: recordsQuerySchema,
          response: { 200: recordsResponseSchema, ...errorResponses },
        },
      },
      (request) => queryRecords(records, request.params.dataset, request.query),
    );
    await Promise.resolve();
  };
}
