/**
 * Assembles one consumer process: state pool, sinks, DLQ, pipeline and the Kafka loop. `stop()` abandons
 * the records stalled on a down sink without committing them (the group redelivers them), then closes in
 * order.
 * The process serves its own /metrics and /healthz (metrics-server.ts): only it holds its counters.
 */
import { KafkaConsumer, KafkaProducer, listTopics } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { PaneStore } from '../analytics/pane-store.ts';
import { InputTopics } from './raw-topics.ts';
import { QualityCounts } from './quality-counts.ts';
import { PgReferenceData } from '../datasets/reference-data.ts';
import { SeenIdLedger } from '../analytics/seen-id-ledger.ts';
import { ApiKeyStore } from '../auth/api-keys.ts';
import type { ControlPlaneConfig } from '../config.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { ValidatorCache } from '../datasets/validators.ts';
import { migrate } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.ts';
import { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { buildSinks, type BuiltSinks } from '../sinks/registry.ts';
import { ConsumerLoop } from './consumer-loop.ts';
import { KafkaAndTableDeadLetters } from './dead-letters.ts';
import { Pipeline } from './pipeline.ts';

export interface RunningConsumer {
  loop: ConsumerLoop;
  metrics: ControlPlaneMetrics;
  /** Serves this process's /metrics and /healthz (config.consumerMetrics). */
  metricsServer: MetricsServer;
  /** Settles when the loop ends (after stop()). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Messages the Kafka client may hold fetched beyond what the loop took (the stream's high-water mark; it always
 * takes a whole fetch, bounded by SLUICE_FETCH_MAX_BYTES): no more records of the largest allowed size than one
 * batch's bytes hold, so the read-ahead is bounded in bytes too, and at most one batch.
 */
export function readAheadMessages(config: Pick<ControlPlaneConfig, 'batch' | 'maxRecordBytes'>): number {
  return Math.max(1, Math.min(config.batch.maxRecords, Math.floor(config.batch.maxBytes / Math.max(1, config.maxRecordBytes))));
}

export async function startConsumer(
  config: ControlPlaneConfig,
  logger: Logger,
  options: { sinks?: BuiltSinks; retry?: { minDelayMs?: number; maxDelayMs?: number }; breakerResetMs?: number } = {},
): Promise<RunningConsumer> {
  await migrate(config.pgUrl, config.stateSchema, logger);
  const pool = createPool(config.pgUrl, config.stateSchema);
  const metrics = new ControlPlaneMetrics({ defaultMetrics: true, maxAgentLabels: config.maxAgentLabels });
  const metricsServer = await startMetricsServer({ ...config.consumerMetrics, apiKeys: new ApiKeyStore(pool), metrics, logger });
  const sinks = options.sinks ?? buildSinks(config, logger);
  const producer = new KafkaProducer({ brokers: config.kafkaBrokers, clientId: 'sluice-control-plane-dlq' });
  const consumer = new KafkaConsumer({
    brokers: config.kafkaBrokers,
    clientId: `sluice-consumer-${process.pid}`,
    groupId: config.groupId,
    topics: [],
    // What the client holds read ahead beyond the last fetch: the loop holds the in-flight batches itself (docs/consumer.md, memory).
    highWaterMark: readAheadMessages(config),
    fetchMaxBytes: config.batch.fetchMaxBytes,
  });
  const shutdown = new AbortController();
  const datasets = new DatasetStore(pool);
  const inputs = new InputTopics(config.topicPrefix, config.dlqTopic);
  const quality = new QualityCounts(pool, metrics.registry, { logger });
  const pipeline = new Pipeline({
    datasets,
    inputs,
    refs: new PgReferenceData(pool),
    quality,
    validators: new ValidatorCache(),
    sinks: sinks.registry,
    deadLetters: new KafkaAndTableDeadLetters((messages) => producer.send(messages), pool, config.dlqTopic),
    metrics,
    logger,
    ...(sinks.blobs ? { blobs: sinks.blobs } : {}),
    maxRecordBytes: config.maxRecordBytes,
    seenIds: new SeenIdLedger(pool, new PaneStore(config.stateSchema)),
    signal: shutdown.signal,
    unclassified: { attempts: config.sinkRetry.unknownAttempts, windowMs: config.sinkRetry.unknownRetryMs },
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.breakerResetMs === undefined ? {} : { breaker: { resetTimeoutMs: options.breakerResetMs } }),
  });
  const loop = new ConsumerLoop({
    consumer,
    pipeline,
    listTopics: () => listTopics(config.kafkaBrokers),
    inputTopics: async () => {
      inputs.update((await datasets.list()).map((d) => d.spec));
      return inputs.topics();
    },
    pool,
    metrics,
    logger,
    topicPrefix: config.topicPrefix,
    dlqTopic: config.dlqTopic,
    maxRecords: config.batch.maxRecords,
    maxBytes: config.batch.maxBytes,
    maxWaitMs: config.batch.maxWaitMs,
    maxInFlight: config.batch.maxInFlight,
    pauseAfterMs: config.sinkRetry.pauseAfterMs,
    topicRefreshMs: config.topicRefreshMs,
  });
  const done = loop.start();
  let stopping: Promise<void> | undefined;
  return {
    loop,
    metrics,
    metricsServer,
    done,
    stop: () =>
      (stopping ??= (async () => {
        shutdown.abort();
        await loop.stop();
        await pipeline.close();
        await quality.close();
        await Promise.allSettled([consumer.close(), producer.close(), ...sinks.registry.all().map((s) => s.close())]);
        await metricsServer.close();
        await pool.end();
      })()),
  };
}
