/** What every long-running command does first and last: migrate and open the state pool, stop on a signal. */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import type { ControlPlaneConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';

export function onSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
}

export async function prepareState(config: ControlPlaneConfig, logger: Logger): Promise<pg.Pool> {
  await migrate(config.pgUrl, config.stateSchema, logger);
  return createPool(config.pgUrl, config.stateSchema);
}
