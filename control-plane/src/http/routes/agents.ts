/** Enrolled agents: list and detail (viewer), labels (operator), revoke (admin). Changes are audited. */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import { agentDetailSchema, agentLabelsPatchSchema, agentListQuerySchema, agentListSchema, type AgentListQuery, type Labels } from '@sluice/shared/api/fleet-agents';
import { actorOf } from '../../operators/audit.ts';
import type { Fleet } from '../../fleet/fleet-services.ts';

const agentParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 200 } } } as const;

export function agentRoutes(fleet: Fleet): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: AgentListQuery }>(
      '/agents',
      { config: { auth: 'viewer' }, schema: { summary: 'List agents (filters: label, status, drift)', tags: ['fleet'], querystring: agentListQuerySchema, response: { 200: agentListSchema, ...errorResponses } } },
      async (request) => fleet.agents.list(request.query),
    );

    app.get<{ Params: { id: string } }>(
      '/agents/:id',
      { config: { auth: 'viewer' }, schema: { summary: 'One agent: health, allowed roots, recent check-ins', tags: ['fleet'], params: agentParams, response: { 200: agentDetailSchema, ...errorResponses } } },
      async (request) => fleet.agents.detail(request.params.id),
    );

    app.patch<{ Params: { id: string }; Body: { labels: Labels } }>(
      '/agents/:id',
      {
        config: { auth: 'operator' },
        schema: { summary: 'Replace an agent\'s labels (its policy follows)', tags: ['fleet'], params: agentParams, body: agentLabelsPatchSchema, response: { 200: agentDetailSchema, ...errorResponses } },
      },
      async (request) => fleet.agents.setLabels(request.params.id, request.body.labels, actorOf(request), request.id),
    );

    app.post<{ Params: { id: string } }>(
      '/agents/:id/revoke',
      { config: { auth: 'admin' }, schema: { summary: 'Revoke an agent: cut off at its next request', tags: ['fleet'], params: agentParams, response: { 200: agentDetailSchema, ...errorResponses } } },
      async (request) => fleet.agents.revoke(request.params.id, actorOf(request), request.id),
    );
    await Promise.resolve();
  };
}
