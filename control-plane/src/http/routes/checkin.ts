/**
 * The agent's own routes: check-in and its desired config. The agent is whoever the credential says
 * (request.principal, set by the auth hook): no body or path names an agent, so an agent can neither
 * report as another nor read another's config.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { BugError } from '@sluice/shared/errors';
import { errorResponses } from '@sluice/shared/api/error-body';
import { agentConfigResponseSchema, CHECKIN_MAX_BODY_BYTES, checkinRequestSchema, checkinResponseSchema, type CheckinRequest } from '@sluice/shared/fleet/checkin';
import type { Fleet } from '../../fleet/fleet-services.ts';
import type { ControlPlaneMetrics } from '../../metrics/metrics.ts';

function agentOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind !== 'agent') throw BugError('an agent route was reached without an agent principal');
  return principal.agentId;
}

/** The result label of an answered check-in: refusals by the auth hook and by validation included. */
function resultOf(status: number): string {
  if (status < 300) return 'ok';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate-limited';
  return status < 500 ? 'invalid' : 'error';
}

export function checkinRoutes(fleet: Fleet, metrics?: ControlPlaneMetrics): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: CheckinRequest }>(
      '/agent/checkin',
      {
        config: { auth: 'agent' },
        // A route hook: it runs for every answer of this route, those the auth hook or validation gave too.
        onResponse: async (request, reply) => {
          if (!metrics) return;
          metrics.fleetCheckins.inc({ result: resultOf(reply.statusCode) });
          const body = request.body as Partial<CheckinRequest> | undefined;
          metrics.fleetCheckinLatency.observe({ long_poll: String((body?.waitSeconds ?? 0) > 0) }, reply.elapsedTime / 1000);
          await Promise.resolve();
        },
        bodyLimit: CHECKIN_MAX_BODY_BYTES,
        schema: { summary: 'Agent check-in: report state and health, get the desired config (long-poll)', tags: ['fleet'], body: checkinRequestSchema, response: { 200: checkinResponseSchema, ...errorResponses } },
      },
      async (request, reply) => {
        const agentId = agentOf(request);
        // A long-poll ends when the agent goes away: nobody is left to answer.
        const gone = new AbortController();
        reply.raw.once('close', () => gone.abort());
        return fleet.checkins.checkin(agentId, request.body, gone.signal);
      },
    );

    app.get(
      '/agent/config',
      { config: { auth: 'agent' }, schema: { summary: 'The calling agent\'s desired revision and its config', tags: ['fleet'], response: { 200: agentConfigResponseSchema, ...errorResponses } } },
      async (request) => fleet.checkins.desiredOf(agentOf(request)),
    );
    await Promise.resolve();
  };
}
