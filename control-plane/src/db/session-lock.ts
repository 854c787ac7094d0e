/**
 * Work that one process of several may do at a time (the anomaly detector's run, housekeeping): a session-level
 * `pg_try_advisory_lock` on one pooled connection, held for the whole of `work`, which gets that connection
 * (it may open transactions on it). A process that dies loses its connection and with it the lock; one that
 * finds the lock taken skips. `key` is an SQL expression for the bigint key, e.g.
 * `hashtextextended(current_schema() || '/anomaly-detector', 0)`, so each state schema has its own lock.
 */
import type pg from 'pg';

export async function withSessionLock<T>(pool: pg.Pool, key: string, work: (client: pg.PoolClient) => Promise<T>): Promise<{ locked: true; result: T } | { locked: false }> {
  const client = await pool.connect();
  let locked = false;
  try {
    locked = (await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${key}) AS locked`)).rows[0]?.locked === true;
    if (!locked) return { locked: false };
    return { locked: true, result: await work(client) };
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock(${key})`).catch(() => undefined);
    client.release();
  }
}
