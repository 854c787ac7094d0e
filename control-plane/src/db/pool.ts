import pg from 'pg';

/**
 * A pool whose connections resolve unqualified names in the state schema. Queries still qualify nothing,
 * so the same code serves the default `sluice` schema and a test's own.
 */
export function createPool(pgUrl: string, stateSchema: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: pgUrl, max, options: `-c search_path=${stateSchema}` });
  // An idle client losing its connection (PostgreSQL restarted) must not crash the process; the next
  // query gets a fresh connection.
  pool.on('error', () => undefined);
  return pool;
}
