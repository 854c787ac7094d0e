/**
 * What the REST API's routes are given: its own file so that server.ts (which registers the routes) and
 * the routes (which take these) do not import each other.
 */
import type pg from 'pg';
import { loadConfig } from '../config.ts';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import type { ApiKeyStore } from '../auth/api-keys.ts';
import type { AgentAuthenticator } from '../auth/principal.ts';
import type { DatasetStore } from '../datasets/dataset-store.ts';
import type { Fleet } from '../fleet/fleet-services.ts';
import type { FleetHealthServices } from '../health/fleet-health-services.ts';
import type { ValidatorCache } from '../datasets/validators.ts';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import type { OperatorServices } from '../operators/operator-services.ts';
import type { PolicyServices } from '../fleet/policy-services.ts';

export interface ServerDeps {
  pool: pg.Pool;
  datasets: DatasetStore;
  validators: ValidatorCache;
  apiKeys: ApiKeyStore;
  /** Verifies agent credentials (fleet/agent-identity.ts); absent means no agent is known. */
  agentAuth?: AgentAuthenticator | undefined;
  /** Users, sessions, signing keys (operators/operator-services.ts). */
  operators: OperatorServices;
  /** The console's origin (SLUICE_CONSOLE_ORIGIN): the only one CORS answers; unset sends no CORS headers. */
  consoleOrigin?: string | undefined;
  /** The console's build (SLUICE_CONSOLE_DIR), served at /console; default the checkout's desktop/dist/renderer. */
  consoleDir?: string | undefined;
  /** Policies, revisions and rollouts (fleet/policy-services.ts); their routes exist only when it is given. */
  policies?: PolicyServices | undefined;
  /** Enrollment, agents and check-in (fleet/fleet-services.ts); its routes exist only when it is given. */
  fleet?: Fleet | undefined;
  /** Fleet summary, pipeline health and the ledger (health/fleet-health-services.ts); its routes exist only when it is given. */
  fleetHealth?: FleetHealthServices | undefined;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  /** Produces to Kafka (acks=all); throws when Kafka is unreachable. */
  produce: (messages: readonly OutgoingMessage[]) => Promise<void>;
  /** Produces one message and answers where it landed (DLQ replays record it); throws like `produce`. */
  produceOne: (message: OutgoingMessage) => Promise<{ topic: string; partition: number; offset: bigint }>;
  /** Kafka reachability for /readyz and consumer lag for /health. */
  kafka: { ping: () => Promise<void>; lag: () => Promise<Array<{ topic: string; partition: number; lag: number }>> };
  topicPrefix: string;
  /** The PostgreSQL schema of the datasets' tables (SLUICE_DATA_SCHEMA); unset: the configured default. */
  dataSchema?: string | undefined;
  maxRecordBytes: number;
  /** Largest ingest request body; every other route accepts at most CONTROL_BODY_LIMIT_BYTES (or this, if smaller). */
  bodyLimitBytes: number;
}

/** The data schema's name, read from the configuration on first use when not given (the docs server has none). */
export function dataSchemaOf(deps: Pick<ServerDeps, 'dataSchema'>): () => string {
  let name = deps.dataSchema;
  return () => (name ??= loadConfig().dataSchema);
}
