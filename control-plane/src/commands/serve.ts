/** `sluice-control-plane serve`: the REST API, the fleet, rollouts, anomaly detection and retention in one process. */
import type { Logger } from '@sluice/shared/node/logger';
import { KafkaConsumer, KafkaProducer, listTopics } from '@sluice/shared/node/kafka';
import { timestampsAt } from '@sluice/shared/node/kafka-timestamps';
import type { ControlPlaneConfig } from '../config.ts';
import { ApiKeyStore } from '../auth/api-keys.ts';
import { buildSinks } from '../sinks/registry.ts';
import { datasetTopics } from '../consumer/consumer-loop.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { ValidatorCache } from '../datasets/validators.ts';
import { ConsumerLagReader } from '../health/consumer-lag.ts';
import { fleetHealthFromConfig } from '../health/fleet-health-services.ts';
import { connectivityThresholds } from '../fleet/connectivity.ts';
import { createFleet } from '../fleet/fleet-services.ts';
import { createPolicyServices } from '../fleet/policy-services.ts';
import { buildServer } from '../http/server.ts';
import { loadTlsFiles } from '../http/tls-files.ts';
import { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { anomalyRunsCounter } from '../metrics/anomaly-gauges.ts';
import { AnomalyDetector } from '../analytics/anomaly-detector.ts';
import { AnalyticsRetention } from '../analytics/retention.ts';
import { createOperatorServices } from '../operators/operator-services.ts';
import { onSignals, prepareState } from './lifecycle.ts';

export async function serve(config: ControlPlaneConfig, logger: Logger): Promise<void> {
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
