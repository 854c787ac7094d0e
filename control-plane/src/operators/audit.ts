/**
 * The audit log: who did what to what, with the state before and after. `recordAudit` takes the client of
 * the transaction that makes the change, so a change and its record commit or roll back together: there is
 * no change without its row and no row for a change that did not happen.
 */
import type pg from 'pg';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';

export interface AuditActor {
  kind: 'user' | 'apiKey' | 'agent' | 'system';
  id: string;
  name?: string | undefined;
}

export interface AuditEntry {
  actor: AuditActor;
  /** Dotted verb, e.g. `user.create`, `policy.publish`, `rollout.rollback`. */
  action: string;
  target: { kind: string; id: string };
  /** State before and after, never secrets or their hashes. */
  before?: unknown;
  after?: unknown;
  requestId?: string | undefined;
}

/** The control plane acting on its own (an automatic rollback, a bootstrap key). */
export const SYSTEM_ACTOR: AuditActor = { kind: 'system', id: 'control-plane' };

export function actorOfPrincipal(principal: Principal | undefined): AuditActor {
  if (principal === undefined) return { kind: 'system', id: 'anonymous' };
  if (principal.kind === 'agent') return { kind: 'agent', id: principal.agentId };
  return { kind: principal.kind, id: principal.id, name: principal.name };
}

export function actorOf(request: FastifyRequest): AuditActor {
  return actorOfPrincipal(request.principal);
}

export async function recordAudit(client: pg.ClientBase, entry: AuditEntry): Promise<void> {
  await client.query(
    `INSERT INTO audit_log (actor_kind, actor_id, actor_name, action, target_kind, target_id, before, after, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      entry.actor.kind,
      entry.actor.id,
      entry.actor.name ?? null,
      entry.action,
      entry.target.kind,
      entry.target.id,
      entry.before === undefined ? null : JSON.stringify(entry.before),
      entry.after === undefined ? null : JSON.stringify(entry.after),
      entry.requestId ?? null,
    ],
  );
}
