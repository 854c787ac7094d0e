import type { FastifyPluginAsync } from 'fastify';
import { POLICY_NAME_PATTERN, rolloutListSchema, rolloutViewSchema, startRolloutBodySchema, type StartRolloutBody } from '@sluice/shared/api/policies';
import { errorResponses } from '@sluice/shared/api/error-body';
import type { PolicyServices } from '../../fleet/policy-services.ts';
import { callerOf } from './policies.ts';

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: POLICY_NAME_PATTERN } } } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
const tags = ['rollouts'];
const ACTION_SUMMARIES = {
  pause: 'Pause a rollout: no wave opens, no gate is judged',
  resume: 'Resume a paused rollout (its phase clock restarts)',
  abort: 'Abort a rollout: its opened agents return to the previous revision',
  rollback: 'Roll a rollout back to its previous revision',
} as const;

export function rolloutRoutes(services: PolicyServices): FastifyPluginAsync {
  const { rollouts } = services;
  return async (app) => {
    app.post<{ Params: { name: string }; Body: StartRolloutBody }>(
      '/policies/:name/rollouts',
      { config: { auth: 'operator' }, schema: { summary: 'Start a rollout of a revision (all at once or staged)', tags, params: nameParams, body: startRolloutBodySchema, response: { 201: rolloutViewSchema, ...errorResponses } } },
      async (request, reply) => reply.code(201).send(await rollouts.start(request.params.name, request.body, callerOf(request))),
    );

    app.get<{ Params: { name: string } }>(
      '/policies/:name/rollouts',
      { config: { auth: 'viewer' }, schema: { summary: 'A policy\'s rollouts, newest first', tags, params: nameParams, response: { 200: rolloutListSchema, ...errorResponses } } },
      async (request) => ({ items: await rollouts.list(request.params.name) }),
    );

    app.get<{ Params: { id: number } }>(
      '/rollouts/:id',
      { config: { auth: 'viewer' }, schema: { summary: 'One rollout: state, wave, phase, gate report', tags, params: idParams, response: { 200: rolloutViewSchema, ...errorResponses } } },
      (request) => rollouts.get(request.params.id),
    );

    for (const action of ['pause', 'resume', 'abort', 'rollback'] as const) {
      app.post<{ Params: { id: number } }>(
        `/rollouts/:id/${action}`,
        { config: { auth: 'operator' }, schema: { summary: ACTION_SUMMARIES[action], tags, params: idParams, response: { 200: rolloutViewSchema, ...errorResponses } } },
        (request) => rollouts.act(request.params.id, action, callerOf(request)),
      );
    }

    await Promise.resolve();
  };
}
