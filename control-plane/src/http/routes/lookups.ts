/**
 * Lookup tables for the `lookup` transform (docs/transforms.md): GET /lookups, GET /lookups/{name} (viewer,
 * rows by keyset); PUT /lookups/{name} (replace whole) and DELETE /lookups/{name}, operator, audited.
 */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import {
  deletedLookupSchema, lookupListSchema, lookupParamsSchema, lookupRowsQuerySchema, lookupSummarySchema, lookupViewSchema, putLookupBodySchema,
  type LookupRowsQuery, type PutLookupBody,
} from '@sluice/shared/api/lookups';
import { LookupStore } from '../../datasets/lookup-store.ts';
import { actorOf } from '../../operators/audit.ts';
import type { ServerDeps } from '../server-deps.ts';

export function lookupRoutes(deps: ServerDeps): FastifyPluginAsync {
  const lookups = new LookupStore(deps.pool);
  return async (app) => {
    app.get('/lookups', { config: { auth: 'viewer' }, schema: { tags: ['transforms'], summary: 'Lookup tables for the lookup transform', response: { 200: lookupListSchema, ...errorResponses } } }, async () => ({ items: await lookups.list() }));
    app.get<{ Params: { name: string }; Querystring: LookupRowsQuery }>(
      '/lookups/:name',
      { config: { auth: 'viewer' }, schema: { tags: ['transforms'], summary: 'One lookup table and a page of its rows, in key order', params: lookupParamsSchema, querystring: lookupRowsQuerySchema, response: { 200: lookupViewSchema, ...errorResponses } } },
      (request) => lookups.get(request.params.name, request.query),
    );
    app.put<{ Params: { name: string }; Body: PutLookupBody }>(
      '/lookups/:name',
      { config: { auth: 'operator' }, schema: { tags: ['transforms'], summary: 'Create or replace a lookup table with all its rows (audited)', params: lookupParamsSchema, body: putLookupBodySchema, response: { 200: lookupSummarySchema, ...errorResponses } } },
      (request) => lookups.put(request.params.name, request.body, { actor: actorOf(request), requestId: request.id }),
    );
    app.delete<{ Params: { name: string } }>(
      '/lookups/:name',
      { config: { auth: 'operator' }, schema: { tags: ['transforms'], summary: 'Delete a lookup table (audited)', params: lookupParamsSchema, response: { 200: deletedLookupSchema, ...errorResponses } } },
      async (request) => {
        await lookups.delete(request.params.name, { actor: actorOf(request), requestId: request.id });
        return { name: request.params.name, deleted: true };
      },
    );
    await Promise.resolve();
  };
}
