/**
 * Runs the SQL migrations in control-plane/migrations against the state schema. Unqualified names in the
 * migrations land in that schema because node-pg-migrate sets search_path to it.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@sluice/shared/node/logger';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

export async function migrate(pgUrl: string, schema: string, logger?: Logger): Promise<string[]> {
  const ran = await runner({
    databaseUrl: pgUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    schema,
    createSchema: true,
    // serve and consume may start together: the second waits for the first instead of failing.
    advisoryLockMode: 'wait',
    logger: {
      debug: (m: string) => logger?.debug(m),
      info: (m: string) => logger?.debug(m),
      warn: (m: string) => logger?.warn(m),
      error: (m: string) => logger?.error(m),
    },
  });
  return ran.map((m) => m.name);
}
