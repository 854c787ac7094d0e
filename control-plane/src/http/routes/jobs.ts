/**
 * Ingestion jobs (docs/lake.md): POST /ingestion/jobs, POST …/{id}/start, POST …/{id}/cancel (operator,
 * audited in the same transaction as the change, lake/jobs/job-store.ts); GET /ingestion/jobs (filters,
 * cursor pagination), GET …/{id} (progress and per-batch errors), GET /ingestion/workers (viewer).
 * Workers (`sluice-control-plane worker`) run what is started; this API only writes PostgreSQL.
 */
import type { FastifyPluginAsync } from 'fastify';
import { InputError, NotFoundError } from '@sluice/shared/errors';
import { errorResponses } from '@sluice/shared/api/error-body';
import {
  createJobBodySchema, jobListQuerySchema, jobListSchema, jobViewSchema, workerListSchema,
  type CreateJobBody, type JobListQuery,
} from '@sluice/shared/api/jobs';
import { loadConfig, type ControlPlaneConfig } from '../../config.ts';
import { JobStore } from '../../lake/jobs/job-store.ts';
import { createAjv } from '../../datasets/validators.ts';
import { jobKindRegistry } from '../../lake/jobs/kinds.ts';
import { actorOf } from '../../operators/audit.ts';
import type { ServerDeps } from '../server-deps.ts';

const jobIdParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: '^job_[0-9a-f]{32}$' } } } as const;

export function jobRoutes(deps: ServerDeps): FastifyPluginAsync {
  const jobs = new JobStore(deps.pool);
  const kinds = jobKindRegistry();
  // Kinds check a source against the settings workers run with (folder roots, S3 store): the same environment,
  // read on the first create (building the server, e.g. for the API reference, needs none of it).
  let config: ControlPlaneConfig | undefined;
  // The validator the datasets use: formats (a `rest` range's date-times) checked, regular expressions on RE2.
  const ajv = createAjv();
  const validators = new Map(kinds.names().map((name) => [name, ajv.compile(kinds.get(name)!.specSchema)]));
  return async (app) => {
    app.post<{ Body: CreateJobBody }>(
      '/ingestion/jobs',
      { config: { auth: 'operator' }, schema: { tags: ['lake'], summary: 'Create an ingestion job (s3, folder, urls, rest, kafka, compaction); start it at once with `start: true` (audited)', body: createJobBodySchema, response: { 201: jobViewSchema, ...errorResponses } } },
      async (request, reply) => {
        const { dataset, source, start } = request.body;
        const kind = kinds.get(source.kind);
        const validate = validators.get(source.kind);
        if (kind === undefined || validate === undefined) throw InputError(`source.kind must be one of ${kinds.names().join(', ')}`);
        if (!validate(source)) throw InputError(`source: ${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ')}`);
        if ((await deps.datasets.latest(dataset)) === undefined) throw NotFoundError(`dataset ${dataset} does not exist`);
        await kind.validate?.(source, { pool: deps.pool, config: (config ??= loadConfig()), logger: deps.logger });
        const job = await jobs.create({ dataset, kind: source.kind, spec: source, start: start ?? false }, { actor: actorOf(request), requestId: request.id });
        return reply.code(201).send(job);
      },
    );
    app.get<{ Querystring: JobListQuery }>(
      '/ingestion/jobs',
      { config: { auth: 'viewer' }, schema: { tags: ['lake'], summary: 'Ingestion jobs, newest first (filters state, dataset, kind; cursor pagination)', querystring: jobListQuerySchema, response: { 200: jobListSchema, ...errorResponses } } },
      (request) => jobs.list(request.query),
    );
    app.get<{ Params: { id: string } }>(
      '/ingestion/jobs/:id',
      { config: { auth: 'viewer' }, schema: { tags: ['lake'], summary: 'One job with its progress (records, bytes, batches, rate, ETA) and per-batch errors', params: jobIdParams, response: { 200: jobViewSchema, ...errorResponses } } },
      (request) => jobs.get(request.params.id),
    );
    app.post<{ Params: { id: string } }>(
      '/ingestion/jobs/:id/start',
      { config: { auth: 'operator' }, schema: { tags: ['lake'], summary: 'Start a created job, or restart a failed / cancelled one with its unfinished batches (audited)', params: jobIdParams, response: { 200: jobViewSchema, ...errorResponses } } },
      (request) => jobs.start(request.params.id, { actor: actorOf(request), requestId: request.id }),
    );
    app.post<{ Params: { id: string } }>(
      '/ingestion/jobs/:id/cancel',
      { config: { auth: 'operator' }, schema: { tags: ['lake'], summary: 'Cancel a job: pending batches are dropped, running ones stop within a lease renewal (audited)', params: jobIdParams, response: { 200: jobViewSchema, ...errorResponses } } },
      (request) => jobs.cancel(request.params.id, { actor: actorOf(request), requestId: request.id }),
    );
    app.get(
      '/ingestion/workers',
      { config: { auth: 'viewer' }, schema: { tags: ['lake'], summary: 'Worker processes seen in the last 10 minutes', response: { 200: workerListSchema, ...errorResponses } } },
      async () => ({ items: await jobs.workers() }),
    );
    await Promise.resolve();
  };
}
