/**
 * A source wired to the real outbox (SQLite) and the real shipper producing to the real Kafka: the agent's
 * data path without its CLI and config loading. Integration tests of single sources use it.
 */
import { join } from 'node:path';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { TEST_TOPIC_PREFIX, ownTopics } from '@sluice/shared/node/testing/test-resources';
import { Outbox } from '../../src/outbox/outbox.ts';
import { AgentMetrics } from '../../src/runtime/metrics.ts';
import { createSourceContext } from '../../src/runtime/source-context.ts';
import { Shipper } from '../../src/shipper/shipper.ts';
import type { Source, SourceContext } from '../../src/sources/source.ts';

export interface SourcePipeline {
  ctx: SourceContext;
  outbox: Outbox;
  shipper: Shipper;
  errors: string[];
  /** Stops the source, drains the outbox to Kafka (up to `drainMs`), closes everything. */
  stop(drainMs?: number): Promise<void>;
}

export async function startSourcePipeline(options: {
  dir: string;
  brokers: string[];
  source: Source;
  agentId?: string;
  /** Outbox row bound (default 1M); tests of backpressure make it small. */
  maxRows?: number;
  /** Start the shipper later (`pipeline.shipper.start()`) to let the outbox fill up. */
  holdShipper?: boolean;
}): Promise<SourcePipeline> {
  const log = createLogger('it', { level: process.env.SLUICE_TEST_LOG ?? 'error' });
  const outbox = new Outbox({ file: join(options.dir, 'outbox.db'), maxBytes: 1024 * 1024 * 1024, maxRows: options.maxRows ?? 1_000_000, synchronous: 'NORMAL' });
  const controller = new AbortController();
  const errors: string[] = [];
  const ctx = createSourceContext({
    agentId: options.agentId ?? 'it-agent',
    sourceId: options.source.id,
    outbox,
    log,
    signal: controller.signal,
    metrics: new AgentMetrics({ defaultMetrics: false }),
    // Never the default `sluice.`: a running `npm start` consumer would load what tests ship.
    topicPrefix: TEST_TOPIC_PREFIX,
    onError: (message) => errors.push(message),
  });
  const shipper = new Shipper({
    outbox,
    createSender: () => {
      const producer = new KafkaProducer({ brokers: options.brokers, clientId: 'it-agent' });
      // Every topic shipped to is the test's: deleted after the file, also if the test never reads it.
      return {
        send: (messages) => {
          ownTopics(...new Set(messages.map((m) => m.topic)));
          return producer.send(messages);
        },
        close: () => producer.close(),
      };
    },
    batchSize: 2000,
    lingerMs: 5,
    maxBatchBytes: 1024 * 1024,
    log,
    minRetryDelayMs: 100,
    maxRetryDelayMs: 2000,
  });
  if (!options.holdShipper) shipper.start();
  await options.source.start(ctx);
  let stopped = false;
  return {
    ctx,
    outbox,
    shipper,
    errors,
    async stop(drainMs = 30_000) {
      if (stopped) return;
      stopped = true;
      controller.abort();
      await options.source.stop();
      await shipper.stop(drainMs);
      outbox.close();
    },
  };
}
