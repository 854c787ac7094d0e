/**
 * Lake tables and partitions (docs/lake.md): GET /tables, GET /tables/{name}, GET /tables/{name}/partitions
 * (viewer); PUT /tables/{name} (description, compaction settings) and DELETE /tables/{name} (soft delete),
 * operator; both audited.
 */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import {
  deletedTableSchema, partitionListSchema, partitionsQuerySchema, tableListSchema, tableNameParams, tableSchema, updateTableBody,
  type PartitionsQuery, type UpdateTableBody,
} from '@sluice/shared/api/lake';
import { actorOf } from '../../operators/audit.ts';
import { TableStore } from '../../lake/tables/table-store.ts';
import type { ServerDeps } from '../server-deps.ts';

export function tableRoutes(deps: ServerDeps): FastifyPluginAsync {
  const tables = new TableStore(deps.pool, deps.datasets);
  return async (app) => {
    app.get('/tables', { config: { auth: 'viewer' }, schema: { tags: ['lake'], summary: 'Lake tables: datasets with the object-store sink, their partition spec and statistics', response: { 200: tableListSchema, ...errorResponses } } }, async () => ({ items: await tables.list() }));
    app.get<{ Params: { name: string } }>(
      '/tables/:name',
      { config: { auth: 'viewer' }, schema: { tags: ['lake'], summary: 'One lake table', params: tableNameParams, response: { 200: tableSchema, ...errorResponses } } },
      (request) => tables.get(request.params.name),
    );
    app.get<{ Params: { name: string }; Querystring: PartitionsQuery }>(
      '/tables/:name/partitions',
      { config: { auth: 'viewer' }, schema: { tags: ['lake'], summary: 'A lake table\'s partitions with statistics, in path order (keyset pagination)', params: tableNameParams, querystring: partitionsQuerySchema, response: { 200: partitionListSchema, ...errorResponses } } },
      (request) => tables.partitions(request.params.name, request.query),
    );
    app.put<{ Params: { name: string }; Body: UpdateTableBody }>(
      '/tables/:name',
      { config: { auth: 'operator' }, schema: { tags: ['lake'], summary: 'Change what users may change about a table: description, compaction settings (audited)', params: tableNameParams, body: updateTableBody, response: { 200: tableSchema, ...errorResponses } } },
      (request) => tables.update(request.params.name, request.body, { actor: actorOf(request), requestId: request.id }),
    );
    app.delete<{ Params: { name: string } }>(
      '/tables/:name',
      { config: { auth: 'operator' }, schema: { tags: ['lake'], summary: 'Soft-delete a table: it leaves the list; the dataset and its data stay (audited)', params: tableNameParams, response: { 200: deletedTableSchema, ...errorResponses } } },
      async (request) => {
        await tables.softDelete(request.params.name, { actor: actorOf(request), requestId: request.id });
        return { name: request.params.name, deleted: true };
      },
    );
    await Promise.resolve();
  };
}
