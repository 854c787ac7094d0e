/**
 * /api/v1/users (admin): create, list, change role or reset password, disable. Each change and its audit row
 * commit in one transaction. A password reset or a disabled user revokes every refresh-token family, so the
 * person is out at the latest when their current access token expires.
 */
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '@sluice/shared/api/error-body';
import { createUserBodySchema, updateUserBodySchema, userListSchema, userSchema, usernameParams, type CreateUserBody, type UpdateUserBody } from '@sluice/shared/api/users';
import { withTransaction } from '../../db/transaction.ts';
import { actorOf, recordAudit } from '../../operators/audit.ts';
import type { ServerDeps } from '../server-deps.ts';

export function userRoutes(deps: ServerDeps): FastifyPluginAsync {
  const { users, refreshTokens } = deps.operators;
  return async (app) => {
    app.post<{ Body: CreateUserBody }>(
      '/users',
      { config: { auth: 'admin' }, schema: { summary: 'Create a user', tags: ['users'], body: createUserBodySchema, response: { 201: userSchema, ...errorResponses } } },
      async (request, reply) => {
        const created = await withTransaction(deps.pool, async (client) => {
          const user = await users.create(client, request.body);
          await recordAudit(client, { actor: actorOf(request), action: 'user.create', target: { kind: 'user', id: user.username }, after: user, requestId: request.id });
          return user;
        });
        return reply.code(201).send(created);
      },
    );

    app.get('/users', { config: { auth: 'admin' }, schema: { summary: 'List users', tags: ['users'], response: { 200: userListSchema, ...errorResponses } } }, async () => ({ users: await users.list() }));

    app.patch<{ Params: { username: string }; Body: UpdateUserBody }>(
      '/users/:username',
      { config: { auth: 'admin' }, schema: { summary: 'Change a user\'s role or password', tags: ['users'], params: usernameParams, body: updateUserBodySchema, response: { 200: userSchema, ...errorResponses } } },
      async (request) =>
        withTransaction(deps.pool, async (client) => {
          const { before, after } = await users.update(client, request.params.username, request.body);
          const passwordReset = request.body.password !== undefined;
          const revokedSessions = passwordReset ? await refreshTokens.revokeUser(client, after.username, 'password reset') : 0;
          await recordAudit(client, {
            actor: actorOf(request),
            action: passwordReset ? 'user.password-reset' : 'user.update',
            target: { kind: 'user', id: after.username },
            before,
            // The password itself never goes into the log; that it changed does.
            after: { ...after, ...(passwordReset ? { passwordChanged: true, revokedSessions } : {}) },
            requestId: request.id,
          });
          return after;
        }),
    );

    app.post<{ Params: { username: string } }>(
      '/users/:username/disable',
      { config: { auth: 'admin' }, schema: { summary: 'Disable a user and end their sessions', tags: ['users'], params: usernameParams, response: { 200: userSchema, ...errorResponses } } },
      async (request) =>
        withTransaction(deps.pool, async (client) => {
          const { before, after } = await users.disable(client, request.params.username);
          const revokedSessions = await refreshTokens.revokeUser(client, after.username, 'user disabled');
          await recordAudit(client, { actor: actorOf(request), action: 'user.disable', target: { kind: 'user', id: after.username }, before, after: { ...after, revokedSessions }, requestId: request.id });
          return after;
        }),
    );
    await Promise.resolve();
  };
}
