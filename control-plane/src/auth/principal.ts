/**
 * Who a request comes from, and what a route demands of it. A route names one `auth` value:
 *
 *   viewer < operator < admin   a person (access JWT) or a machine (API key) holding at least that role
 *   agent                       an enrolled agent's own credential, nothing else
 *   public                      no credential (login, refresh, enroll, JWKS): each such route limits itself
 *
 * The hook in http/auth.ts sets `request.principal` and refuses what the route's `auth` does not allow.
 */
import type { Role } from './api-keys.ts';

export type RouteAuth = Role | 'agent' | 'public';

export type Principal =
  | { kind: 'apiKey'; id: string; name: string; role: Role }
  | { kind: 'user'; id: string; name: string; role: Role }
  | { kind: 'agent'; agentId: string };

/** Verifies an agent's credential (`sla_…`) and its instance header (`<counter>.<nonce>`); see fleet/agent-identity.ts. */
export interface AgentAuthenticator {
  /**
   * The agent's id, or a thrown UnauthorizedError (unknown or revoked credential) / ForbiddenError (the
   * identity is in use by another instance: a cloned image or a restored backup).
   */
  verify(credential: string, instanceHeader: string | undefined): Promise<string>;
}

export function roleOf(principal: Principal): Role | undefined {
  return principal.kind === 'agent' ? undefined : principal.role;
}
