import type { FastifyPluginAsync } from 'fastify';
import { datasetSchema, type DatasetSpec } from '@sluice/shared/dataset';
import type { Outcome } from '@sluice/shared/outcome';
import {
  addVersionResponseSchema,
  createDatasetResponseSchema,
  datasetListSchema,
  datasetVersionSchema,
  datasetViewSchema,
  proposedVersionBodySchema,
  versionCheckResponseSchema,
  dryRunBodySchema,
  dryRunResponseSchema,
  processingProperties,
  qualityQuerySchema,
  qualityReportSchema,
  type DryRunBody,
  type DryRunResponse,
  type QualityReport,
  type AddVersionResponse,
  type CreateDatasetResponse,
  type DatasetListResponse,
  type DatasetVersionResponse,
  type DatasetViewResponse,
  type ProposedVersionBody,
  type VersionCheckResponse,
} from '@sluice/shared/api/datasets';
import { errorResponses } from '@sluice/shared/api/error-body';
import { topicForDataset } from '@sluice/shared/envelope';
import type { DatasetView, Processing } from '../../datasets/dataset-store.ts';
import { DatasetDryRun } from '../../datasets/dry-run.ts';
import { PgReferenceData } from '../../datasets/reference-data.ts';
import { qualityReport } from '../../datasets/quality-report.ts';
import { NotFoundError } from '@sluice/shared/errors';
import { actorOf } from '../../operators/audit.ts';

import type { ServerDeps } from '../server-deps.ts';

const { $id: _id, ...datasetBody } = datasetSchema;

/** The dataset definition from shared/ plus its first schema version. */
export const createDatasetBody = {
  ...datasetBody,
  required: [...datasetBody.required, 'schema'],
  properties: { ...datasetBody.properties, schema: { type: 'object', description: 'JSON Schema (draft 2020-12) of the payload' }, ...processingProperties },
} as const;

const nameParams = { type: 'object', required: ['name'], properties: { name: datasetBody.properties.name } } as const;
const versionParams = {
  type: 'object',
  required: ['name', 'version'],
  properties: { name: datasetBody.properties.name, version: { type: 'integer', minimum: 1 } },
} as const;

export function datasetRoutes(deps: ServerDeps): FastifyPluginAsync {
  /** The stored view plus what the server's configuration decides: the Kafka topic. */
  const withTopic = (view: DatasetView): DatasetViewResponse => ({ ...view, topic: topicForDataset(view.spec.name, deps.topicPrefix) });
  const dryRun = new DatasetDryRun({ datasets: deps.datasets, refs: new PgReferenceData(deps.pool) });
  return async (app) => {
    app.post<{ Body: DatasetSpec & { schema: Record<string, unknown> } & Processing; Reply: CreateDatasetResponse }>(
      '/datasets',
      { config: { auth: 'operator' }, schema: { summary: 'Register a dataset with its first schema', tags: ['datasets'], body: createDatasetBody, response: { 201: createDatasetResponseSchema, ...errorResponses } } },
      async (request, reply) => {
        const { schema, transforms, rules, ...spec } = request.body;
        const result = await deps.datasets.create(spec, schema, { actor: actorOf(request), requestId: request.id }, { transforms, rules });
        return reply.code(201).send({ dataset: withTopic(await deps.datasets.get(spec.name)), prepared: describePrepared(result.prepared) });
      },
    );

    app.get<{ Reply: DatasetListResponse }>(
      '/datasets',
      { config: { auth: 'viewer' }, schema: { summary: 'List datasets', tags: ['datasets'], response: { 200: datasetListSchema, ...errorResponses } } },
      async () => ({ items: (await deps.datasets.list()).map(withTopic) }),
    );

    app.get<{ Params: { name: string }; Reply: DatasetViewResponse }>(
      '/datasets/:name',
      { config: { auth: 'viewer' }, schema: { summary: 'One dataset with its schema versions', tags: ['datasets'], params: nameParams, response: { 200: datasetViewSchema, ...errorResponses } } },
      async (request) => withTopic(await deps.datasets.get(request.params.name)),
    );

    app.get<{ Params: { name: string; version: number }; Reply: DatasetVersionResponse }>(
      '/datasets/:name/versions/:version',
      { config: { auth: 'viewer' }, schema: { summary: 'One schema version of a dataset', tags: ['datasets'], params: versionParams, response: { 200: datasetVersionSchema, ...errorResponses } } },
      (request) => deps.datasets.version(request.params.name, request.params.version),
    );

    app.post<{ Params: { name: string }; Body: ProposedVersionBody; Reply: VersionCheckResponse }>(
      '/datasets/:name/versions/check',
      {
        config: { auth: 'operator' },
        schema: {
          summary: 'Check a proposed schema version against the latest one, storing nothing',
          tags: ['datasets'],
          params: nameParams,
          body: proposedVersionBodySchema,
          response: { 200: versionCheckResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const check = await deps.datasets.checkVersion(request.params.name, request.body.schema);
        return { latestVersion: check.latestVersion, version: check.version, compatibility: check.report };
      },
    );

    app.post<{ Params: { name: string }; Querystring: { force?: boolean }; Body: ProposedVersionBody; Reply: AddVersionResponse }>(
      '/datasets/:name/versions',
      {
        config: { auth: 'operator' },
        schema: {
          summary: 'Add a schema version (compatibility checked)',
          tags: ['datasets'],
          params: nameParams,
          querystring: { type: 'object', properties: { force: { type: 'boolean' } } },
          body: proposedVersionBodySchema,
          response: { 201: addVersionResponseSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { schema, transforms, rules } = request.body;
        const result = await deps.datasets.addVersion(request.params.name, schema, request.query.force === true, { actor: actorOf(request), requestId: request.id }, { transforms, rules });
        return reply.code(201).send({ version: result.version, compatibility: result.report, prepared: describePrepared(result.prepared) });
      },
    );

    app.post<{ Params: { name: string }; Body: DryRunBody; Reply: DryRunResponse }>(
      '/datasets/:name/dry-run',
      {
        config: { auth: 'operator' },
        schema: {
          summary: "Sample records through a version's transforms, event time, schema and quality rules (or proposed ones), storing nothing",
          tags: ['datasets', 'transforms'],
          params: nameParams,
          body: dryRunBodySchema,
          response: { 200: dryRunResponseSchema, ...errorResponses },
        },
      },
      (request) => dryRun.run(request.params.name, request.body),
    );

    app.get<{ Params: { name: string }; Querystring: { from?: string; to?: string }; Reply: QualityReport }>(
      '/datasets/:name/quality',
      { config: { auth: 'viewer' }, schema: { summary: "The quality rules' outcomes per minute and their worst offenders", tags: ['datasets', 'transforms'], params: nameParams, querystring: qualityQuerySchema, response: { 200: qualityReportSchema, ...errorResponses } } },
      async (request) => {
        const dataset = await deps.datasets.latest(request.params.name);
        if (!dataset) throw NotFoundError(`dataset ${request.params.name} does not exist`);
        return qualityReport(deps.pool, dataset, request.query);
      },
    );

    await Promise.resolve();
  };
}

function describePrepared(prepared: ReadonlyArray<{ sink: string; outcome: Outcome }>): CreateDatasetResponse['prepared'] {
  return prepared.map((p) => ({ sink: p.sink, outcome: p.outcome.kind, ...('reason' in p.outcome && p.outcome.reason ? { reason: p.outcome.reason } : {}) }));
}

