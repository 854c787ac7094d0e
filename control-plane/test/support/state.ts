import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { ownSchemas } from '@sluice/shared/node/testing/test-resources';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';

export const stackEnv = loadStackEnv();

export function suffix(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** A migrated state schema of the test's own, dropped afterwards (with the data schema if given). */
export async function freshState(dataSchema?: string): Promise<{ schema: string; pool: pg.Pool; drop: () => Promise<void> }> {
  const schema = `cp_test_${suffix()}`;
  // Also dropped after the file if the test never gets to drop() (the integration setup, test-resources.ts).
  ownSchemas(schema, ...(dataSchema ? [dataSchema] : []));
  await migrate(stackEnv.pgUrl, schema);
  const pool = createPool(stackEnv.pgUrl, schema);
  return {
    schema,
    pool,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      if (dataSchema) await pool.query(`DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`);
      await pool.end();
    },
  };
}
