/**
 * `sluice-control-plane serve | consume | worker | migrate | create-api-key --role R [--name N]`.
 * serve and consume migrate the state schema first, so a fresh database needs no separate step.
 */
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { createLogger, type Logger } from '@sluice/shared/node/logger';
import { loadConfig, type ControlPlaneConfig } from './config.ts';
import { migrate } from './db/migrate.ts';
import { createPool } from './db/pool.ts';
import { USERS_USAGE, usersCommand } from './operators/users-cli.ts';
import { JOBS_USAGE, jobsCommand } from './lake/jobs/jobs-cli.ts';

// Each command imports what it runs when it runs (`consume` never loads the HTTP server, the fleet, the lake
// worker or DuckDB): every module a process loads stays in its RSS for its whole life.

const USAGE = `usage: sluice-control-plane serve | consume | worker | migrate | create-api-key --role viewer|operator|admin [--name NAME]\n       ${USERS_USAGE}\n       ${JOBS_USAGE}`;

function onSignals(stop: () => Promise<void>, logger: Logger): void {
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

async function prepareState(config: ControlPlaneConfig, logger: Logger): Promise<pg.Pool> {
  await migrate(config.pgUrl, config.stateSchema, logger);
  return createPool(config.pgUrl, config.stateSchema);
}

export async function serve(config: ControlPlaneConfig, logger: Logger): Promise<void> {
  const [
    { KafkaConsumer, KafkaProducer, listTopics },
    { timestampsAt },
    { ApiKeyStore },
    { buildSinks },
    { datasetTopics },
    { DatasetStore },
    { ValidatorCache },
    { ConsumerLagReader },
    { fleetHealthFromConfig },
    { connectivityThresholds },
    { createFleet },
    { createPolicyServices },
    { buildServer },
    { loadTlsFiles },
    { ControlPlaneMetrics },
    { anomalyRunsCounter },
    { AnomalyDetector },
    { AnalyticsRetention },
    { createOperatorServices },
  ] = await Promise.all([
    import('@sluice/shared/node/kafka'),
    import('@sluice/shared/node/kafka-timestamps'),
    import('./auth/api-keys.ts'),
    import('./sinks/registry.ts'),
    import('./consumer/consumer-loop.ts'),
    import('./datasets/dataset-store.ts'),
    import('./datasets/validators.ts'),
    import('./health/consumer-lag.ts'),
    import('./health/fleet-health-services.ts'),
    import('./fleet/connectivity.ts'),
    import('./fleet/fleet-services.ts'),
    import('./fleet/policy-services.ts'),
    import('./http/server.ts'),
    import('./http/tls-files.ts'),
    import('./metrics/metrics.ts'),
    import('./metrics/anomaly-gauges.ts'),
    import('./analytics/anomaly-detector.ts'),
    import('./analytics/retention.ts'),
    import('./operators/operator-services.ts'),
  ]);
  // Before anything else starts: a bad certificate should stop the process, not leave it half up.
  const https = config.tls === undefined ? undefined : loadTlsFiles(config.tls);
  const pool = await prepareState(config, logger);
  const apiKeys = new ApiKeyStore(pool);
  if (config.adminKey !== undefined && (await apiKeys.bootstrapAdmin(config.adminKey))) logger.info('bootstrap admin key stored (hash only)');
  if (config.metricsKey !== undefined) await apiKeys.bootstrapMetrics(config.metricsKey);
  const sinks = buildSinks(config, logger);
  const producer = new KafkaProducer({ brokers: config.kafkaBrokers, clientId: 'sluice-control-plane-api' });
  const lagReader = new KafkaConsumer({ brokers: config.kafkaBrokers, clientId: 'sluice-control-plane-lag', groupId: config.groupId, topics: [] });
  const metrics = new ControlPlaneMetrics({ defaultMetrics: true, maxAgentLabels: config.maxAgentLabels });
  const consumerLag = new ConsumerLagReader({
    source: {
      lag: async () => lagReader.lag(datasetTopics(await listTopics(config.kafkaBrokers), config.topicPrefix, config.dlqTopic)),
      timestampsAt: (positions) => timestampsAt(config.kafkaBrokers, positions),
    },
  });
  const policies = createPolicyServices(pool, { tickMs: config.rolloutTickMs, logger, onRollback: (reason) => metrics.fleetRollbacks.inc({ reason }) });
  const fleet = createFleet(pool, { logger, checkin: config.checkin, connectivity: connectivityThresholds(config.fleetHealth) });
  await fleet.start();
  const app = await buildServer({
    pool,
    policies,
    fleet,
    datasets: new DatasetStore(pool, { prepare: (dataset) => sinks.registry.prepare(dataset) }),
    validators: new ValidatorCache(),
    apiKeys,
    metrics,
    logger,
    produce: (messages) => producer.send(messages),
    produceOne: (message) => producer.sendOne(message),
    kafka: {
      ping: async () => void (await listTopics(config.kafkaBrokers)),
      lag: async () => {
        const topics = datasetTopics(await listTopics(config.kafkaBrokers), config.topicPrefix, config.dlqTopic);
        return (await lagReader.lag(topics)).map((p) => ({ topic: p.topic, partition: p.partition, lag: Number(p.lag) }));
      },
    },
    topicPrefix: config.topicPrefix,
    dataSchema: config.dataSchema,
    maxRecordBytes: config.maxRecordBytes,
    bodyLimitBytes: config.http.bodyLimitBytes,
    operators: createOperatorServices(pool, config.operators, { secureCookies: https !== undefined }),
    consoleOrigin: config.consoleOrigin,
    consoleDir: config.consoleDir,
    fleetHealth: fleetHealthFromConfig(config, pool, consumerLag),
  }, { https });
  await app.listen({ host: config.http.host, port: config.http.port });
  policies.start();
  const anomalyRuns = anomalyRunsCounter(metrics.registry);
  const anomalies = new AnomalyDetector({
    pool,
    datasets: new DatasetStore(pool),
    dataSchema: config.dataSchema,
    intervalMs: config.anomaly.intervalMs,
    catchUpPanes: config.anomaly.catchUpPanes,
    logger,
    onRun: (result) => anomalyRuns.inc({ result }),
  });
  anomalies.start();
  const retention = new AnalyticsRetention({ pool, retentionDays: config.analyticsRetention.days, intervalMs: config.analyticsRetention.intervalMs, logger });
  retention.start();
  onSignals(async () => {
    await retention.stop();
    await anomalies.stop();
    await policies.close();
    await app.close();
    await fleet.close();
    await Promise.allSettled([producer.close(), lagReader.close(), ...sinks.registry.all().map((s) => s.close())]);
    await pool.end();
  }, logger);
}

export async function consume(config: ControlPlaneConfig, logger: Logger): Promise<void> {
  const { startConsumer } = await import('./consumer/consumer-service.ts');
  const running = await startConsumer(config, logger);
  onSignals(() => running.stop(), logger);
  await running.done;
}

/** Runs lake jobs (lake/jobs/worker.ts) until SIGTERM, which hands running batches back and then exits. */
export async function worker(config: ControlPlaneConfig, logger: Logger): Promise<void> {
  const [{ KafkaProducer }, { DatasetStore }, { jobKindRegistry }, { LakeWorker }] = await Promise.all([
    import('@sluice/shared/node/kafka'),
    import('./datasets/dataset-store.ts'),
    import('./lake/jobs/kinds.ts'),
    import('./lake/jobs/worker.ts'),
  ]);
  const pool = await prepareState(config, logger);
  const producer = new KafkaProducer({ brokers: config.kafkaBrokers, clientId: 'sluice-control-plane-worker' });
  const running = new LakeWorker({ pool, config, logger, registry: jobKindRegistry(), datasets: new DatasetStore(pool), send: (messages) => producer.send(messages) });
  await running.start();
  onSignals(async () => {
    await running.stop();
    await producer.close();
    await pool.end();
  }, logger);
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
      return serve(config, logger);
    case 'consume':
      return consume(config, logger);
    case 'worker':
      return worker(config, logger);
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
