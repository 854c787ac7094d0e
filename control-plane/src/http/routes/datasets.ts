import type { FastifyPluginAsync } from 'fastify';
import { datasetSchema, type DatasetSpec } from '@sluice/shared/dataset';

import type { ServerDeps } from '../server.ts';

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
    app.post<{ Body: DatasetSpec & { schema: Record<string, unknown> } }>(
      '/datasets',
      { config: { role: 'operator' }, schema: { tags: ['datasets'], body: createDatasetBody } },
      async (request, reply) => {
        const { schema, ...spec } = request.body;
        const result = await deps.datasets.create(spec, schema);
        return reply.code(201).send({ dataset: await deps.datasets.get(spec.name), prepared: describePrepared(result.prepared) });
      },
    );

    app.get('/datasets', { config: { role: 'viewer' }, schema: { tags: ['datasets'] } }, async () => ({ items: await deps.datasets.list() }));

    app.get<{ Params: { name: string } }>(
      '/datasets/:name',
      { config: { role: 'viewer' }, schema: { tags: ['datasets'], params: nameParams } },
      (request) => deps.datasets.get(request.params.name),
    );

    app.post<{ Params: { name: string }; Querystring: { force?: boolean }; Body: { schema: Record<string, unknown> } }>(
      '/datasets/:name/versions',
      {
        config: { role: 'operator' },
        schema: {
          tags: ['datasets'],
          params: nameParams,
          querystring: { type: 'object', properties: { force: { type: 'boolean' } } },
          body: { type: 'object', required: ['schema'], additionalProperties: false, properties: { schema: { type: 'object' } } },
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

function describePrepared(prepared: ReadonlyArray<{ sink: string; outcome: { kind: string; reason?: string } }>): Array<Record<string, string>> {
  return prepared.map((p) => ({ sink: p.sink, outcome: p.outcome.kind, ...(p.outcome.reason ? { reason: p.outcome.reason } : {}) }));
}

