/**
 * The one authentication and authorisation hook of every control-plane HTTP surface (the API and each
 * consumer's metrics listener). Each route declares `config.auth` (auth/principal.ts); a route without one
 * is refused (fail closed), so a route added without thinking about access is unusable rather than open.
 *
 * The credential's shape says who sends it, so each request costs one verifier:
 *
 *   sla_…            an agent credential        -> deps.agentAuth (with the x-sluice-instance header)
 *   xxx.yyy.zzz      a JWT (three base64url parts) -> the access-token verifier (EdDSA, keys by kid)
 *   anything else    an API key (`slk_…`, or an operator-chosen bootstrap key) -> ApiKeyStore
 *
 * While PostgreSQL is down a key cannot be looked up: recently verified keys are still served (ApiKeyStore),
 * others get 503 with Retry-After, except on liveness routes, which answer whenever a credential is presented:
 * a liveness probe that failed with the database would have an orchestrator restart a healthy process.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError, isDependencyDown } from '@sluice/shared/errors';
import { AGENT_CREDENTIAL_PREFIX, INSTANCE_HEADER } from '@sluice/shared/fleet/checkin';
import { roleAllows, type ApiKeyStore } from '../auth/api-keys.ts';
import type { AgentAuthenticator, Principal, RouteAuth } from '../auth/principal.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; a route without it is refused (fail closed). */
    auth?: RouteAuth;
    /** A liveness probe: answered even when the credential cannot be verified because PostgreSQL is down. */
    liveness?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Verifies an operator's access token (a JWT); throws UnauthorizedError for a bad, expired or foreign one. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<Extract<Principal, { kind: 'user' }>>;
}

export interface AuthVerifiers {
  apiKeys: ApiKeyStore;
  /** Absent until agents can enroll: every agent credential is then unknown. */
  agentAuth?: AgentAuthenticator | undefined;
  /** Absent on surfaces that take only API keys (a consumer's metrics listener). */
  accessTokens?: AccessTokenVerifier | undefined;
}

const BEARER = /^Bearer\s+(\S+)$/i;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : BEARER.exec(header);
  return match?.[1];
}

async function authenticate(credential: string, request: FastifyRequest, verifiers: AuthVerifiers): Promise<Principal> {
  if (credential.startsWith(AGENT_CREDENTIAL_PREFIX)) {
    if (!verifiers.agentAuth) throw UnauthorizedError('unknown agent credential');
    const instance = request.headers[INSTANCE_HEADER];
    const agentId = await verifiers.agentAuth.verify(credential, typeof instance === 'string' ? instance : undefined);
    return { kind: 'agent', agentId };
  }
  if (JWT_SHAPE.test(credential)) {
    if (!verifiers.accessTokens) throw UnauthorizedError('access tokens are not accepted here; use an API key');
    return verifiers.accessTokens.verify(credential);
  }
  const principal = await verifiers.apiKeys.verify(credential);
  if (!principal) throw UnauthorizedError('unknown or revoked API key');
  return principal;
}

/** Throws unless `principal` may call a route declaring `needed`. */
export function authorise(principal: Principal, needed: RouteAuth | undefined): void {
  if (needed === undefined) throw ForbiddenError('this route declares no auth policy, so it is refused');
  if (needed === 'public') return;
  if (needed === 'agent') {
    if (principal.kind !== 'agent') throw ForbiddenError('this route is for agents only (an agent credential)');
    return;
  }
  if (principal.kind === 'agent') throw ForbiddenError(`this route needs the ${needed} role; an agent credential has no role`);
  if (!roleAllows(principal.role, needed)) throw ForbiddenError(`this route needs the ${needed} role; the ${principal.kind === 'user' ? 'user' : 'key'} has ${principal.role}`);
}

export function addAuth(app: FastifyInstance, verifiers: AuthVerifiers): void {
  // onRequest runs before the body is read, so an unauthenticated client cannot make the server parse a body.
  // Unknown paths are authenticated too (401 before 404), so probing without a credential learns nothing.
  app.addHook('onRequest', async (request) => {
    const needed = request.is404 ? undefined : request.routeOptions.config.auth;
    // A public route limits itself (rate limits, lockout); a credential sent along is not even looked at.
    if (needed === 'public') return;
    const credential = bearerOf(request);
    if (credential === undefined) throw UnauthorizedError('missing credential: send Authorization: Bearer <API key, access token or agent credential>');
    let principal: Principal;
    try {
      principal = await authenticate(credential, request, verifiers);
    } catch (error) {
      if (!request.is404 && request.routeOptions.config.liveness === true && isDependencyDown(error)) return;
      throw error;
    }
    request.principal = principal;
    if (request.is404) return;
    authorise(principal, needed);
  });
}
