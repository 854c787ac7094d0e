/**
 * Schema compare and apply (docs/lake.md, "Schema versions"): POST /schema/compare (viewer: it stores
 * nothing) and POST /schema/versions/{id}/apply (operator, audited).
 */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import { schemaApplyResponse, schemaCompareBody, schemaCompareResponse, schemaVersionParams, type SchemaCompareBody } from '@sluice/shared/api/schema';
import { SchemaService } from '../../datasets/schema-apply.ts';
import { actorOf } from '../../operators/audit.ts';
import { dataSchemaOf, type ServerDeps } from '../server-deps.ts';

export function schemaRoutes(deps: ServerDeps): FastifyPluginAsync {
  // Built on first use: the docs server has no configuration to read.
  const dataSchema = dataSchemaOf(deps);
  let service: SchemaService | undefined;
  const schemas = (): SchemaService => (service ??= new SchemaService(deps.pool, deps.datasets, dataSchema()));
  return async (app) => {
    app.post<{ Body: SchemaCompareBody }>(
      '/schema/compare',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['datasets'],
          summary: 'Compare two schema versions of a dataset, or a version and a proposed schema: each change with backward/forward compatibility',
          body: schemaCompareBody,
          response: { 200: schemaCompareResponse, ...errorResponses },
        },
      },
      (request) => schemas().compare(request.body.dataset, request.body.from, request.body.to),
    );
    app.post<{ Params: { id: string } }>(
      '/schema/versions/:id/apply',
      {
        config: { auth: 'operator' },
        schema: {
          tags: ['datasets'],
          summary: 'Apply a schema version to the stores (PostgreSQL columns, search mappings, Parquet columns of new files); audited',
          params: schemaVersionParams,
          response: { 200: schemaApplyResponse, ...errorResponses },
        },
      },
      (request) => schemas().apply(request.params.id, { actor: actorOf(request), requestId: request.id }),
    );
    await Promise.resolve();
  };
}
