/**
 * Fleet state written the way the policy side writes it, for check-in tests that need a desired revision
 * without going through policies and rollouts: a revision row, and an agent's desired revision changed in
 * a transaction that notifies 'desired-changed'.
 */
import type pg from 'pg';
import { configHash } from '@sluice/shared/node/config-hash';
import type { PipelineConfig } from '@sluice/shared/agent-config/pipeline';
import { withTransaction } from '../../src/db/transaction.ts';
import { notifyFleet } from '../../src/fleet/fleet-events.ts';

export function pipeline(path: string): PipelineConfig {
  return { sources: [{ type: 'file', id: 'app-log', dataset: 'sensors', path }] } as unknown as PipelineConfig;
}

/** A revision of `policy` (created if missing, selecting nobody so assignment leaves agents alone). */
export async function revision(pool: pg.Pool, policy: string, number: number, config: PipelineConfig): Promise<{ id: number; hash: string }> {
  await pool.query(`INSERT INTO policies (name, selector, created_by) VALUES ($1, '{"labels": {"nobody": "x"}}', 'test') ON CONFLICT DO NOTHING`, [policy]);
  const hash = configHash(config);
  const inserted = await pool.query<{ id: string }>(
    `INSERT INTO policy_revisions (policy, number, config, hash, created_by) VALUES ($1, $2, $3, $4, 'test') RETURNING id`,
    [policy, number, JSON.stringify(config), hash],
  );
  return { id: Number(inserted.rows[0]!.id), hash };
}

export async function setDesired(pool: pg.Pool, agentId: string, revisionId: number | null): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query('UPDATE agents SET desired_revision_id = $2 WHERE id = $1', [agentId, revisionId]);
    await notifyFleet(client, { kind: 'desired-changed', agentIds: [agentId] });
  });
}

/** A pool that counts what it is asked: queries and transactions (each connect). */
export function countQueries(pool: pg.Pool): { readonly count: number; reset(): void } {
  let count = 0;
  // pool.query checks a client out through pool.connect: that is the one statement, not a second.
  let inQuery = false;
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  Object.assign(pool, {
    query: (...args: unknown[]) => {
      count += 1;
      inQuery = true;
      try {
        return query(...args);
      } finally {
        inQuery = false;
      }
    },
    connect: (...args: unknown[]) => {
      if (!inQuery) count += 1;
      return connect(...args);
    },
  });
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
    },
  };
}
