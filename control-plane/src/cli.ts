/**
 * `sluice-control-plane serve | consume | worker | migrate | create-api-key --role R [--name N]`.
 * serve and consume migrate the state schema first, so a fresh database needs no separate step.
 */
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '@sluice/shared/node/logger';
import { loadConfig, type ControlPlaneConfig } from './config.ts';
import { migrate } from './db/migrate.ts';
import { onSignals, prepareState } from './commands/lifecycle.ts';
import { USERS_USAGE, usersCommand } from './operators/users-cli.ts';
import { JOBS_USAGE, jobsCommand } from './lake/jobs/jobs-cli.ts';

// Each command imports what it runs when it runs (`consume` never loads the HTTP server, the fleet, the lake
// worker or DuckDB): every module a process loads stays in its RSS for its whole life. The long-running
// commands live in commands/.

const USAGE = `usage: sluice-control-plane serve | consume | worker | migrate | create-api-key --role viewer|operator|admin [--name NAME]\n       ${USERS_USAGE}\n       ${JOBS_USAGE}`;

export async function consume(config: ControlPlaneConfig, logger: Logger): Promise<void> {
  const { startConsumer } = await import('./consumer/consumer-service.ts');
  const running = await startConsumer(config, logger);
  onSignals(() => running.stop(), logger);
  await running.done;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const [command, ...rest] = argv;
  // A client of the REST API: it needs no database configuration.
  if (command === 'jobs') {
    process.exitCode = await jobsCommand(rest, { env: process.env, out: process.stdout });
    return;
  }
  const logger = createLogger(`sluice-control-plane${command ? `-${command}` : ''}`);
  const config = loadConfig();
  switch (command) {
    case 'serve':
      return (await import('./commands/serve.ts')).serve(config, logger);
    case 'consume':
      return consume(config, logger);
    case 'worker':
      return (await import('./commands/worker.ts')).worker(config, logger);
    case 'migrate': {
      const ran = await migrate(config.pgUrl, config.stateSchema, logger);
      process.stdout.write(`${ran.length === 0 ? 'state schema up to date' : `ran ${ran.join(', ')}`}\n`);
      return;
    }
    case 'create-api-key': {
      const { ApiKeyStore, isRole, ROLES } = await import('./auth/api-keys.ts');
      const { values } = parseArgs({ args: rest, options: { role: { type: 'string' }, name: { type: 'string' } } });
      if (!isRole(values.role)) throw new Error(`--role must be one of ${ROLES.join(', ')}\n${USAGE}`);
      const pool = await prepareState(config, logger);
      try {
        const created = await new ApiKeyStore(pool).create(values.role, values.name ?? `${values.role} key`);
        // The only time the key is shown: stdout, for the operator to store.
        process.stdout.write(`${JSON.stringify(created)}\n`);
      } finally {
        await pool.end();
      }
      return;
    }
    case 'users': {
      const pool = await prepareState(config, logger);
      try {
        const user = await usersCommand(rest, pool);
        process.stdout.write(`${JSON.stringify(user)}\n`);
      } finally {
        await pool.end();
      }
      return;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      process.exitCode = 2;
  }
}
