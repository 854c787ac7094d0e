/**
 * What the REST API's routes are given: its own file so that server.ts (which registers the routes) and
 * the routes (which take these) do not import each other.
 */
import type pg from 'pg';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import type { ApiKeyStore } from '../auth/api-keys.ts';
import type { DatasetStore } from '../datasets/dataset-store.ts';
import type { ValidatorCache } from '../datasets/validators.ts';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';

export interface ServerDeps {
  pool: pg.Pool;
  datasets: DatasetStore;
  validators: ValidatorCache;
  apiKeys: ApiKeyStore;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  /** Produces to Kafka (acks=all); throws when Kafka is unreachable. */
  produce: (messages: readonly OutgoingMessage[]) => Promise<void>;
  /** Produces one message and answers where it landed (DLQ replays record it); throws like `produce`. */
  produceOne: (message: OutgoingMessage) => Promise<{ topic: string; partition: number; offset: bigint }>;
  /** Kafka reachability for /readyz and consumer lag for /health. */
  kafka: { ping: () => Promise<void>; lag: () => Promise<Array<{ topic: string; partition: number; lag: number }>> };
  topicPrefix: string;
  maxRecordBytes: number;
  /** Largest ingest request body; every other route accepts at most CONTROL_BODY_LIMIT_BYTES (or this, if smaller). */
  bodyLimitBytes: number;
}
