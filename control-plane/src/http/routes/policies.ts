import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  createPolicyBodySchema,
  diffResponseSchema,
  policyListSchema,
  policyRollbackBodySchema,
  policyViewSchema,
  POLICY_NAME_PATTERN,
  publishBodySchema,
  revisionListSchema,
  updatePolicyBodySchema,
  revisionViewSchema,
  validateResponseSchema,
  type CreatePolicyBody,
  type PublishBody,
  type UpdatePolicyBody,
} from '@sluice/shared/api/policies';
import { errorResponses } from '@sluice/shared/api/error-body';
import type { Caller } from '../../fleet/policy-store.ts';
import type { PolicyServices } from '../../fleet/policy-services.ts';
import { actorOf } from '../../operators/audit.ts';

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: POLICY_NAME_PATTERN } } } as const;
const revisionParams = { type: 'object', required: ['name', 'n'], properties: { name: nameParams.properties.name, n: { type: 'integer', minimum: 1 } } } as const;
const tags = ['policies'];

export const callerOf = (request: FastifyRequest): Caller => ({ actor: actorOf(request), requestId: request.id });

export function policyRoutes(services: PolicyServices): FastifyPluginAsync {
  const { policies, rollouts } = services;
  return async (app) => {
    app.post<{ Body: CreatePolicyBody }>(
      '/policies',
      { config: { auth: 'operator' }, schema: { summary: 'Create a policy', tags, body: createPolicyBodySchema, response: { 201: policyViewSchema, ...errorResponses } } },
      async (request, reply) => reply.code(201).send(await policies.create(request.body, callerOf(request))),
    );

    app.get('/policies', { config: { auth: 'viewer' }, schema: { summary: 'List policies, highest priority first', tags, response: { 200: policyListSchema, ...errorResponses } } }, async () => ({ items: await policies.list() }));

    app.get<{ Params: { name: string } }>(
      '/policies/:name',
      { config: { auth: 'viewer' }, schema: { summary: 'One policy with its current revision', tags, params: nameParams, response: { 200: policyViewSchema, ...errorResponses } } },
      (request) => policies.get(request.params.name),
    );

    app.patch<{ Params: { name: string }; Body: UpdatePolicyBody }>(
      '/policies/:name',
      {
        config: { auth: 'operator' },
        schema: {
          tags,
          summary: 'Change a policy\'s description, selector or priority',
          description: 'Agents follow a new selector or priority at once; refused (409) while a rollout of the policy is active.',
          params: nameParams,
          body: updatePolicyBodySchema,
          response: { 200: policyViewSchema, ...errorResponses },
        },
      },
      (request) => policies.update(request.params.name, request.body, callerOf(request)),
    );

    app.post<{ Params: { name: string }; Body: PublishBody }>(
      '/policies/:name/revisions',
      { config: { auth: 'operator' }, schema: { summary: 'Publish a revision (validated: schema, datasets, folders)', tags, params: nameParams, body: publishBodySchema, response: { 201: revisionViewSchema, ...errorResponses } } },
      async (request, reply) => reply.code(201).send(await policies.publish(request.params.name, request.body, callerOf(request))),
    );

    app.post<{ Params: { name: string }; Body: PublishBody }>(
      '/policies/:name/validate',
      { config: { auth: 'operator' }, schema: { summary: 'Check a config as publishing would, without publishing', tags, params: nameParams, body: publishBodySchema, response: { 200: validateResponseSchema, ...errorResponses } } },
      (request) => policies.validate(request.params.name, request.body.config),
    );

    app.get<{ Params: { name: string } }>(
      '/policies/:name/revisions',
      { config: { auth: 'viewer' }, schema: { summary: 'List a policy\'s revisions', tags, params: nameParams, response: { 200: revisionListSchema, ...errorResponses } } },
      async (request) => ({ items: await policies.revisions(request.params.name) }),
    );

    app.get<{ Params: { name: string; n: number } }>(
      '/policies/:name/revisions/:n',
      { config: { auth: 'viewer' }, schema: { summary: 'One revision with its config', tags, params: revisionParams, response: { 200: revisionViewSchema, ...errorResponses } } },
      (request) => policies.revision(request.params.name, request.params.n),
    );

    app.get<{ Params: { name: string }; Querystring: { from: number; to: number } }>(
      '/policies/:name/diff',
      {
        config: { auth: 'viewer' },
        schema: {
          summary: 'Path-by-path diff of two revisions',
          tags,
          params: nameParams,
          querystring: { type: 'object', required: ['from', 'to'], properties: { from: { type: 'integer', minimum: 1 }, to: { type: 'integer', minimum: 1 } } },
          response: { 200: diffResponseSchema, ...errorResponses },
        },
      },
      (request) => policies.diff(request.params.name, request.query.from, request.query.to),
    );

    app.post<{ Params: { name: string }; Body: { revision: number } }>(
      '/policies/:name/rollback',
      {
        config: { auth: 'operator' },
        schema: {
          summary: 'Make an earlier revision current at once',
          tags,
          params: nameParams,
          body: policyRollbackBodySchema,
          response: { 200: { type: 'object', additionalProperties: false, required: ['policy', 'currentRevision'], properties: { policy: { type: 'string' }, currentRevision: { type: 'integer' } } }, ...errorResponses },
        },
      },
      (request) => rollouts.rollbackPolicy(request.params.name, request.body.revision, callerOf(request)),
    );

    await Promise.resolve();
  };
}
