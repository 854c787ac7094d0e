/**
 * /api/v1/auth (login, refresh, logout: public, each limits itself) and /.well-known/jwks.json (public, so
 * anyone can verify an access token offline). The refresh cookie is HttpOnly, SameSite=Strict, scoped to
 * /api/v1/auth so no other route ever receives it, and Secure when the API is served over https.
 */
import cookie from '@fastify/cookie';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BugError, UnauthorizedError } from '@sluice/shared/errors';
import { errorResponses } from '@sluice/shared/api/error-body';
import {
  CSRF_HEADER,
  REFRESH_COOKIE,
  jwksSchema,
  loginBodySchema,
  logoutResponseSchema,
  refreshBodySchema,
  sessionResponseSchema,
  whoAmISchema,
  type LoginBody,
  type RefreshBody,
} from '@sluice/shared/api/auth';
import type { Presented } from '../../operators/refresh-tokens.ts';
import type { Session } from '../../operators/sessions.ts';
import type { ServerDeps } from '../server-deps.ts';

const COOKIE_PATH = '/api/v1/auth';

export function authRoutes(deps: ServerDeps): FastifyPluginAsync {
  const { sessions, secureCookies } = deps.operators;

  function answer(reply: FastifyReply, session: Session, viaCookie: boolean) {
    const { refresh } = session;
    const body = {
      user: session.user,
      accessToken: session.accessToken,
      tokenType: 'Bearer' as const,
      expiresAt: session.accessTokenExpiresAt,
      refreshExpiresAt: refresh.expiresAt,
    };
    if (!viaCookie) return { ...body, refreshToken: refresh.refreshToken };
    void reply.setCookie(REFRESH_COOKIE, refresh.refreshToken, { httpOnly: true, sameSite: 'strict', secure: secureCookies, path: COOKIE_PATH, expires: new Date(refresh.expiresAt) });
    if (refresh.csrfToken === undefined) throw BugError('a browser session without a CSRF token');
    return { ...body, csrfToken: refresh.csrfToken };
  }

  function presented(request: FastifyRequest<{ Body: RefreshBody }>): Presented {
    const inBody = request.body?.refreshToken;
    if (inBody !== undefined) return { token: inBody, viaCookie: false, requestId: request.id };
    const fromCookie = request.cookies[REFRESH_COOKIE];
    if (fromCookie === undefined) throw UnauthorizedError(`no refresh token: send {"refreshToken": …} or the ${REFRESH_COOKIE} cookie with ${CSRF_HEADER}`);
    const csrf = request.headers[CSRF_HEADER];
    return { token: fromCookie, viaCookie: true, csrfToken: typeof csrf === 'string' ? csrf : undefined, requestId: request.id };
  }

  return async (app) => {
    await app.register(cookie);

    app.post<{ Body: LoginBody }>(
      '/auth/login',
      { config: { auth: 'public' }, schema: { summary: 'Log in: an access token and a refresh token (cookie or body)', tags: ['auth'], security: [], body: loginBodySchema, response: { 200: sessionResponseSchema, ...errorResponses } } },
      async (request, reply) => {
        const client = request.body.client ?? 'browser';
        const session = await sessions.login({ username: request.body.username, password: request.body.password, client, ip: request.ip, requestId: request.id });
        return answer(reply, session, client === 'browser');
      },
    );

    app.post<{ Body: RefreshBody }>(
      '/auth/refresh',
      { config: { auth: 'public' }, schema: { summary: 'A new access token for a refresh token (which is rotated)', tags: ['auth'], security: [], body: refreshBodySchema, response: { 200: sessionResponseSchema, ...errorResponses } } },
      async (request, reply) => {
        const from = presented(request);
        return answer(reply, await sessions.refresh(from), from.viaCookie);
      },
    );

    app.post<{ Body: RefreshBody }>(
      '/auth/logout',
      { config: { auth: 'public' }, schema: { summary: 'Log out: revoke the refresh token\'s session', tags: ['auth'], security: [], body: refreshBodySchema, response: { 200: logoutResponseSchema, ...errorResponses } } },
      async (request, reply) => {
        const from = presented(request);
        await sessions.logout(from);
        if (from.viaCookie) void reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH });
        return { loggedOut: true as const };
      },
    );

    app.get('/auth/me', { config: { auth: 'viewer' }, schema: { summary: 'Who the credential belongs to', tags: ['auth'], response: { 200: whoAmISchema, ...errorResponses } } }, (request) => {
      const principal = request.principal;
      if (principal === undefined || principal.kind === 'agent') throw BugError('/auth/me reached without a user or API key');
      return { kind: principal.kind, id: principal.id, name: principal.name, role: principal.role };
    });
    await Promise.resolve();
  };
}

/** At the root: /.well-known is where JWT libraries look for keys. */
export function jwksRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/.well-known/jwks.json',
      { config: { auth: 'public' }, schema: { summary: 'Public keys that verify access tokens (JWKS)', tags: ['auth'], security: [], response: { 200: jwksSchema, ...errorResponses } } },
      async (_request, reply) => {
        // Short cache: a new key appears in the set before it signs anything a verifier could see.
        void reply.header('cache-control', 'public, max-age=60');
        return deps.operators.signingKeys.jwks();
      },
    );
    await Promise.resolve();
  };
}
