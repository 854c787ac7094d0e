/**
 * Who an agent request comes from: its credential (`sla_…`, stored hashed) names the agent, and its instance
 * header (`<counter>.<nonce>`) names the process. Every agent process starts a new session by writing
 * counter+1 and a fresh nonce to its identity file before its first request, so against the stored session
 * (c, n):
 *
 *   presented counter > c              a restarted agent: the new session is stored (one conditional write)
 *   counter == c and nonce == n        the current session
 *   anything else                      a second instance holding the same identity (a cloned image, a restored
 *                                      backup, or the previous process of a restarted agent): refused, 403
 *
 * Two clones starting together both present c+1; the conditional UPDATE lets exactly one win and the other
 * is then refused like any clone.
 *
 * Verification is served from memory (no PostgreSQL read per check-in). A revoke or a session change notifies
 * 'agent-changed' (fleet-events.ts), which drops the agent's entry on every process; while the event listener
 * is not connected, nothing cached is trusted.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ForbiddenError, UnauthorizedError } from '@sluice/shared/errors';
import { AGENT_CREDENTIAL_PREFIX, parseInstanceHeader, type AgentInstance } from '@sluice/shared/fleet/checkin';
import type { AgentAuthenticator } from '../auth/principal.ts';
import { withTransaction } from '../db/transaction.ts';
import { notifyFleet, type FleetEvents } from './fleet-events.ts';

export function hashCredential(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}

interface Session {
  agentId: string;
  revoked: boolean;
  counter: number;
  nonce: string;
}

const MAX_CACHED = 200_000;

export function cloneRefusal(agentId: string): Error {
  return ForbiddenError(
    `agent ${agentId}: this identity is in use by another instance (cloned image or restored backup); re-enroll this device with \`sluice-agent enroll\``,
  );
}

export class AgentIdentity implements AgentAuthenticator {
  readonly #pool: pg.Pool;
  readonly #events: FleetEvents;
  /** By credential hash. */
  readonly #sessions = new Map<string, Session>();
  readonly #hashByAgent = new Map<string, string>();
  /** Bumped by every event: a lookup that raced an event (a revoke committed meanwhile) is not cached. */
  #epoch = 0;

  constructor(pool: pg.Pool, events: FleetEvents) {
    this.#pool = pool;
    this.#events = events;
    events.on((event) => {
      if (event.kind === 'resync' || event.kind === 'agent-changed') this.#epoch += 1;
      if (event.kind === 'resync' || (event.kind === 'agent-changed' && event.agentIds === undefined)) this.#clear();
      else if (event.kind === 'agent-changed') for (const id of event.agentIds ?? []) this.forget(id);
    });
  }

  async verify(credential: string, instanceHeader: string | undefined): Promise<string> {
    if (!credential.startsWith(AGENT_CREDENTIAL_PREFIX)) throw UnauthorizedError('unknown agent credential');
    const instance = parseInstanceHeader(instanceHeader);
    if (instance === undefined) {
      throw UnauthorizedError('missing or malformed x-sluice-instance header: an agent sends `<counter>.<nonce>` from its identity file');
    }
    const hash = hashCredential(credential);
    let session = this.#events.connected ? this.#sessions.get(hash) : undefined;
    session ??= await this.#load(hash);
    if (session.revoked) throw UnauthorizedError(`agent ${session.agentId} was revoked`);
    if (instance.counter === session.counter && instance.nonce === session.nonce) return session.agentId;
    if (instance.counter > session.counter) return this.#startSession(hash, session.agentId, instance);
    throw cloneRefusal(session.agentId);
  }

  /** Drops what is cached for the agent; its next request reads PostgreSQL. */
  forget(agentId: string): void {
    const hash = this.#hashByAgent.get(agentId);
    if (hash === undefined) return;
    this.#sessions.delete(hash);
    this.#hashByAgent.delete(agentId);
  }

  #clear(): void {
    this.#sessions.clear();
    this.#hashByAgent.clear();
  }

  async #load(hash: string): Promise<Session> {
    const epoch = this.#epoch;
    const found = await this.#pool.query<{ id: string; status: string; instance_counter: string; instance_nonce: string }>(
      'SELECT id, status, instance_counter, instance_nonce FROM agents WHERE credential_hash = $1',
      [hash],
    );
    const row = found.rows[0];
    if (!row) throw UnauthorizedError('unknown agent credential');
    const session: Session = { agentId: row.id, revoked: row.status === 'revoked', counter: Number(row.instance_counter), nonce: row.instance_nonce };
    if (epoch === this.#epoch) this.#remember(hash, session);
    return session;
  }

  #remember(hash: string, session: Session): void {
    if (this.#sessions.size >= MAX_CACHED) this.#clear();
    this.#sessions.set(hash, session);
    this.#hashByAgent.set(session.agentId, hash);
  }

  async #startSession(hash: string, agentId: string, instance: AgentInstance): Promise<string> {
    // The conditional update and its event (delivered on commit) together or neither. Other processes drop
    // their cached session, so the previous process of this agent is refused there too.
    const epoch = this.#epoch;
    const started = await withTransaction(this.#pool, async (client) => {
      const updated = await client.query(
        `UPDATE agents SET instance_counter = $3, instance_nonce = $4
         WHERE id = $1 AND credential_hash = $2 AND status = 'active' AND instance_counter < $3`,
        [agentId, hash, instance.counter, instance.nonce],
      );
      if ((updated.rowCount ?? 0) === 1) await notifyFleet(client, { kind: 'agent-changed', agentIds: [agentId] });
      return updated.rowCount === 1;
    });
    if (started) {
      // Our own event drops it again and the next request reads it back: one read per restart.
      if (epoch === this.#epoch) this.#remember(hash, { agentId, revoked: false, counter: instance.counter, nonce: instance.nonce });
      return agentId;
    }
    // Someone else moved the session first (a clone racing us) or the agent was revoked meanwhile.
    const current = await this.#load(hash);
    if (current.revoked) throw UnauthorizedError(`agent ${agentId} was revoked`);
    if (current.counter === instance.counter && current.nonce === instance.nonce) return agentId;
    throw cloneRefusal(agentId);
  }
}
