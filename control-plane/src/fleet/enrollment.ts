/**
 * Enrollment: an admin makes a token (expiry, max uses, labels to attach, revocable); an agent trades it for
 * an agent id and a credential of its own. Both secrets are 32 random bytes, shown once and stored as sha256.
 *
 * The token row is locked for the enroll transaction, so concurrent enrolls count uses one after another and
 * never exceed max_uses. A refused token says which check failed (unknown, expired, revoked, exhausted):
 * the person provisioning a device needs to know whether to ask for a new token or for more uses.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError, UnauthorizedError } from '@sluice/shared/errors';
import type { EnrollmentToken, EnrollmentTokenCreate, EnrollmentTokenCreated, Labels } from '@sluice/shared/api/fleet-agents';
import { AGENT_CREDENTIAL_PREFIX, ENROLLMENT_TOKEN_PREFIX, type EnrollRequest, type EnrollResponse } from '@sluice/shared/fleet/checkin';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit, type AuditActor } from '../operators/audit.ts';
import { assignNewAgent } from './assignment.ts';
import { hashCredential } from './agent-identity.ts';
import type { FleetEvents } from './fleet-events.ts';

interface TokenRow {
  id: string;
  name: string;
  labels: Labels;
  expires_at: Date;
  max_uses: number;
  uses: number;
  revoked_at: Date | null;
  created_by: string;
  created_at: Date;
}

function tokenState(row: TokenRow, now: Date): EnrollmentToken['state'] {
  if (row.revoked_at !== null) return 'revoked';
  if (row.expires_at <= now) return 'expired';
  return row.uses >= row.max_uses ? 'exhausted' : 'active';
}

function tokenView(row: TokenRow, now: Date): EnrollmentToken {
  return {
    id: row.id,
    name: row.name,
    labels: row.labels,
    expiresAt: row.expires_at.toISOString(),
    maxUses: row.max_uses,
    uses: row.uses,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    state: tokenState(row, now),
  };
}

/** What may precede the agent id's random suffix: the agent config's id alphabet, at most 93 characters. */
export function agentIdPrefix(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 93)
    .replace(/[-_.]+$/, '');
  return cleaned === '' ? 'agent' : cleaned;
}

export interface EnrollmentOptions {
  now?: () => Date;
}

export class Enrollment {
  readonly #pool: pg.Pool;
  readonly #events: FleetEvents;
  readonly #now: () => Date;

  constructor(pool: pg.Pool, events: FleetEvents, options: EnrollmentOptions = {}) {
    this.#pool = pool;
    this.#events = events;
    this.#now = options.now ?? (() => new Date());
  }

  async createToken(input: EnrollmentTokenCreate, actor: AuditActor, requestId?: string): Promise<EnrollmentTokenCreated> {
    const token = `${ENROLLMENT_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = `et-${randomBytes(6).toString('hex')}`;
    const expiresAt = new Date(this.#now().getTime() + (input.expiresInSeconds ?? 24 * 3600) * 1000);
    return withTransaction(this.#pool, async (client) => {
      const inserted = await client.query<TokenRow>(
        `INSERT INTO enrollment_tokens (id, name, token_hash, labels, expires_at, max_uses, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [id, input.name, hashCredential(token), JSON.stringify(input.labels ?? {}), expiresAt, input.maxUses ?? 1, `${actor.kind}:${actor.id}`],
      );
      const view = tokenView(inserted.rows[0]!, this.#now());
      await recordAudit(client, { actor, action: 'enrollment-token.create', target: { kind: 'enrollment-token', id }, after: view, requestId });
      return { ...view, token };
    });
  }

  async listTokens(): Promise<EnrollmentToken[]> {
    const rows = await this.#pool.query<TokenRow>('SELECT * FROM enrollment_tokens ORDER BY created_at DESC, id');
    const now = this.#now();
    return rows.rows.map((row) => tokenView(row, now));
  }

  /** Revoking twice is a no-op that answers the token as it is. */
  async revokeToken(id: string, actor: AuditActor, requestId?: string): Promise<EnrollmentToken> {
    return withTransaction(this.#pool, async (client) => {
      const found = await client.query<TokenRow>('SELECT * FROM enrollment_tokens WHERE id = $1 FOR UPDATE', [id]);
      const row = found.rows[0];
      if (!row) throw NotFoundError(`no enrollment token ${id}`);
      if (row.revoked_at !== null) return tokenView(row, this.#now());
      const updated = await client.query<TokenRow>('UPDATE enrollment_tokens SET revoked_at = $2 WHERE id = $1 RETURNING *', [id, this.#now()]);
      const before = tokenView(row, this.#now());
      const after = tokenView(updated.rows[0]!, this.#now());
      await recordAudit(client, { actor, action: 'enrollment-token.revoke', target: { kind: 'enrollment-token', id }, before, after, requestId });
      return after;
    });
  }

  async enroll(request: EnrollRequest, requestId?: string): Promise<EnrollResponse> {
    const credential = `${AGENT_CREDENTIAL_PREFIX}${randomBytes(32).toString('base64url')}`;
    const name = request.name ?? request.hostname;
    const agentId = `${agentIdPrefix(name)}-${randomBytes(3).toString('hex')}`;
    await withTransaction(this.#pool, async (client) => {
      const found = await client.query<TokenRow>('SELECT * FROM enrollment_tokens WHERE token_hash = $1 FOR UPDATE', [hashCredential(request.token)]);
      const token = found.rows[0];
      if (!token) throw UnauthorizedError('unknown enrollment token');
      const now = this.#now();
      const state = tokenState(token, now);
      if (state === 'revoked') throw UnauthorizedError(`enrollment token ${token.id} (${token.name}) was revoked`);
      if (state === 'expired') throw UnauthorizedError(`enrollment token ${token.id} (${token.name}) expired at ${token.expires_at.toISOString()}`);
      if (state === 'exhausted') throw UnauthorizedError(`enrollment token ${token.id} (${token.name}) is used up (${token.max_uses} of ${token.max_uses} uses)`);
      await client.query('UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = $1', [token.id]);
      await client.query(
        `INSERT INTO agents (id, name, labels, credential_hash, instance_counter, instance_nonce, hostname, version, enrollment_token_id, enrolled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [agentId, name, JSON.stringify(token.labels), hashCredential(credential), request.instance.counter, request.instance.nonce, request.hostname, request.version, token.id, now],
      );
      await assignNewAgent(client, agentId, token.labels);
      await recordAudit(client, {
        actor: { kind: 'agent', id: agentId, name },
        action: 'agent.enroll',
        target: { kind: 'agent', id: agentId },
        after: { name, hostname: request.hostname, version: request.version, labels: token.labels, enrollmentToken: token.id },
        requestId,
      });
      await this.#events.notify(client, { kind: 'agent-changed', agentIds: [agentId] });
    });
    return { agentId, credential };
  }
}
