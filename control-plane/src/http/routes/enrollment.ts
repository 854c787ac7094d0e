/**
 * Enrollment tokens (admin) and enrollment itself (public: the token is the credential). POST /enroll is
 * rate limited per client address with a lockout after repeated bad tokens, checked before the token is.
 */
import type { FastifyPluginAsync } from 'fastify';
import { isSluiceError } from '@sluice/shared/errors';
import { errorResponses } from '@sluice/shared/api/error-body';
import {
  enrollmentTokenCreateSchema,
  enrollmentTokenCreatedSchema,
  enrollmentTokenListSchema,
  enrollmentTokenSchema,
  type EnrollmentTokenCreate,
} from '@sluice/shared/api/fleet-agents';
import { enrollRequestSchema, enrollResponseSchema, type EnrollRequest } from '@sluice/shared/fleet/checkin';
import { actorOf } from '../../operators/audit.ts';
import type { Fleet } from '../../fleet/fleet-services.ts';

const tokenParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 100 } } } as const;

export function enrollmentRoutes(fleet: Fleet): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: EnrollmentTokenCreate }>(
      '/enrollment-tokens',
      {
        config: { auth: 'admin' },
        schema: { summary: 'Create an enrollment token (shown once)', tags: ['fleet'], body: enrollmentTokenCreateSchema, response: { 201: enrollmentTokenCreatedSchema, ...errorResponses } },
      },
      async (request, reply) => {
        const created = await fleet.enrollment.createToken(request.body, actorOf(request), request.id);
        return reply.code(201).send(created);
      },
    );

    app.get(
      '/enrollment-tokens',
      { config: { auth: 'admin' }, schema: { summary: 'List enrollment tokens', tags: ['fleet'], response: { 200: enrollmentTokenListSchema, ...errorResponses } } },
      async () => ({ items: await fleet.enrollment.listTokens() }),
    );

    app.delete<{ Params: { id: string } }>(
      '/enrollment-tokens/:id',
      { config: { auth: 'admin' }, schema: { summary: 'Revoke an enrollment token', tags: ['fleet'], params: tokenParams, response: { 200: enrollmentTokenSchema, ...errorResponses } } },
      async (request) => fleet.enrollment.revokeToken(request.params.id, actorOf(request), request.id),
    );

    app.post<{ Body: EnrollRequest }>(
      '/enroll',
      {
        config: { auth: 'public' },
        bodyLimit: 16 * 1024,
        // The limiter runs before the body is parsed or the token looked at.
        onRequest: async (request) => {
          fleet.enrollLimiter.attempt(request.ip, 'enroll attempts');
          await Promise.resolve();
        },
        schema: { summary: 'Enroll an agent with a token: its agent id and credential', tags: ['fleet'], security: [], body: enrollRequestSchema, response: { 201: enrollResponseSchema, ...errorResponses } },
      },
      async (request, reply) => {
        try {
          const enrolled = await fleet.enrollment.enroll(request.body, request.id);
          fleet.enrollLimiter.succeeded(request.ip);
          request.log.info({ agentId: enrolled.agentId, hostname: request.body.hostname }, 'agent enrolled');
          return await reply.code(201).send(enrolled);
        } catch (error) {
          if (isSluiceError(error, 'UnauthorizedError')) fleet.enrollLimiter.failed(request.ip);
          throw error;
        }
      },
    );
    await Promise.resolve();
  };
}
