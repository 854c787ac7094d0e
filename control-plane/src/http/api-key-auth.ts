/**
 * The one authentication and authorisation hook of every control-plane HTTP surface (the API and each
 * consumer's metrics listener). It authenticates the Bearer key of every request and authorises it against
 * the route's role; a route without a role is refused (fail closed), so a route added without thinking
 * about access is unusable rather than open.
 *
 * While PostgreSQL is down a key cannot be looked up: recently verified keys are still served (ApiKeyStore),
 * others get 503 with Retry-After, except on liveness routes, which answer whenever a key is presented:
 * a liveness probe that failed with the database would have an orchestrator restart a healthy process.
 */
import type { FastifyInstance } from 'fastify';
import { ForbiddenError, UnauthorizedError, isDependencyDown } from '@sluice/shared/errors';
import { roleAllows, type ApiKeyStore, type Principal, type Role } from '../auth/api-keys.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Least role the route needs; a route without one is refused (fail closed). */
    role?: Role;
    /** A liveness probe: answered even when the key cannot be verified because PostgreSQL is down. */
    liveness?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

const BEARER = /^Bearer\s+(\S+)$/i;

export function addApiKeyAuth(app: FastifyInstance, apiKeys: ApiKeyStore): void {
  // onRequest runs before the body is read, so an unauthenticated client cannot make the server parse a body.
  // Unknown paths are authenticated too (401 before 404), so probing without a key learns nothing.
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = header === undefined ? null : BEARER.exec(header);
    if (!match?.[1]) throw UnauthorizedError('missing API key: send Authorization: Bearer <key>');
    let principal: Principal | undefined;
    try {
      principal = await apiKeys.verify(match[1]);
    } catch (error) {
      if (!request.is404 && request.routeOptions.config.liveness === true && isDependencyDown(error)) return;
      throw error;
    }
    if (!principal) throw UnauthorizedError('unknown or revoked API key');
    request.principal = principal;
    if (request.is404) return;
    const needed = request.routeOptions.config.role;
    if (needed === undefined) throw ForbiddenError('this route has no role policy, so it is refused');
    if (!roleAllows(principal.role, needed)) throw ForbiddenError(`this needs the ${needed} role; the key has ${principal.role}`);
  });
}
