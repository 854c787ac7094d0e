import type { FastifyPluginAsync } from 'fastify';
import { datasetSchema, type DatasetSpec } from '@sluice/shared/dataset';
import type { Outcome } from '@sluice/shared/outcome';
import {
  addVersionResponseSchema,
  createDatasetResponseSchema,
  datasetListSchema,
  datasetViewSchema,
  type AddVersionResponse,
  type CreateDatasetResponse,
  type DatasetListResponse,
  type DatasetViewResponse,
} from '@sluice/shared/api/datasets';
import { errorResponses } from '@sluice/shared/api/error-body';

import type { ServerDeps } from '../server-deps.ts';

const { $id: _id, ...datasetBody } = datasetSchema;

/** The dataset definition from shared/ plus its first schema version. */
export const createDatasetBody = {
  ...datasetBody,
  required: [...datasetBody.required, 'schema'],
  properties: { ...datasetBody.properties, schema: { type: 'object', description: 'JSON Schema (draft 2020-12) of the payload' } },
} as const;

const nameParams = { type: 'object', required: ['name'], properties: { name: datasetBody.properties.name } } as const;

export function datasetRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: DatasetSpec & { schema: Record<string, unknown> }; Reply: CreateDatasetResponse }>(
      '/datasets',
      { config: { auth: 'operator' }, schema: { summary: 'Register a dataset with its first schema', tags: ['datasets'], body: createDatasetBody, response: { 201: createDatasetResponseSchema, ...errorResponses } } },
      async (request, reply) => {
        const { schema, ...spec } = request.body;
        const result = await deps.datasets.create(spec, schema);
        return reply.code(201).send({ dataset: await deps.datasets.get(spec.name), prepared: describePrepared(result.prepared) });
      },
    );

    app.get<{ Reply: DatasetListResponse }>(
      '/datasets',
      { config: { auth: 'viewer' }, schema: { summary: 'List datasets', tags: ['datasets'], response: { 200: datasetListSchema, ...errorResponses } } },
      async () => ({ items: await deps.datasets.list() }),
    );

    app.get<{ Params: { name: string }; Reply: DatasetViewResponse }>(
      '/datasets/:name',
      { config: { auth: 'viewer' }, schema: { summary: 'One dataset with its schema versions', tags: ['datasets'], params: nameParams, response: { 200: datasetViewSchema, ...errorResponses } } },
      (request) => deps.datasets.get(request.params.name),
    );

    app.post<{ Params: { name: string }; Querystring: { force?: boolean }; Body: { schema: Record<string, unknown> }; Reply: AddVersionResponse }>(
      '/datasets/:name/versions',
      {
        config: { auth: 'operator' },
        schema: {
          summary: 'Add a schema version (compatibility checked)',
          tags: ['datasets'],
          params: nameParams,
          querystring: { type: 'object', properties: { force: { type: 'boolean' } } },
          body: { type: 'object', required: ['schema'], additionalProperties: false, properties: { schema: { type: 'object' } } },
          response: { 201: addVersionResponseSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const result = await deps.datasets.addVersion(request.params.name, request.body.schema, request.query.force === true);
        return reply.code(201).send({ version: result.version, compatibility: result.report, prepared: describePrepared(result.prepared) });
      },
    );

    await Promise.resolve();
  };
}

function describePrepared(prepared: ReadonlyArray<{ sink: string; outcome: Outcome }>): CreateDatasetResponse['prepared'] {
  return prepared.map((p) => ({ sink: p.sink, outcome: p.outcome.kind, ...('reason' in p.outcome && p.outcome.reason ? { reason: p.outcome.reason } : {}) }));
}

