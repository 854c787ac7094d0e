/**
 * The one way control-plane tests build the REST API: every dependency gets the default a test on the local
 * stack wants (its own state schema's pool, Kafka from stack.env, silent logs), and a test overrides what it
 * looks at. Services the server gains (fleet, policies, operators) are built here once, not in every test.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { KafkaProducer, listTopics } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../../src/auth/api-keys.ts';
import { DatasetStore } from '../../src/datasets/dataset-store.ts';
import { ValidatorCache } from '../../src/datasets/validators.ts';
import { loadConfig } from '../../src/config.ts';
import { connectivityThresholds } from '../../src/fleet/connectivity.ts';
import { createFleet, type Fleet } from '../../src/fleet/fleet-services.ts';
import { createPolicyServices } from '../../src/fleet/policy-services.ts';
import { fleetHealthFromConfig } from '../../src/health/fleet-health-services.ts';
import { buildServer } from '../../src/http/server.ts';
import type { ServerDeps } from '../../src/http/server-deps.ts';
import { ControlPlaneMetrics } from '../../src/metrics/metrics.ts';
import { createOperatorServices } from '../../src/operators/operator-services.ts';
import { stackEnv } from './state.ts';

export interface TestServer {
  app: FastifyInstance;
  deps: ServerDeps;
  /** Closes the server and whatever testServer started for it (not the pool: the test owns that). */
  close(): Promise<void>;
}

/**
 * A server on `pool` (a test's own state schema). Without `produce` overrides, records really go to Kafka
 * through a producer of its own, closed by `close()`.
 */
export async function testServer(pool: pg.Pool, overrides: Partial<ServerDeps> = {}): Promise<TestServer> {
  let producer: KafkaProducer | undefined;
  const kafkaProducer = (): KafkaProducer => (producer ??= new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'cp-test-server' }));
  // The fleet services of this server, unless the test brings its own (`fleet` override, which it closes).
  let ownFleet: Fleet | undefined;
  if (!('fleet' in overrides)) {
    ownFleet = createFleet(pool, { connectivity: connectivityThresholds(loadConfig().fleetHealth) });
    await ownFleet.start();
  }
  const deps: ServerDeps = {
    pool,
    datasets: new DatasetStore(pool),
    validators: new ValidatorCache(),
    apiKeys: new ApiKeyStore(pool),
    metrics: new ControlPlaneMetrics(),
    logger: createLogger('cp-test-server', { level: 'silent' }),
    produce: (messages) => kafkaProducer().send(messages),
    produceOne: (message) => kafkaProducer().sendOne(message),
    kafka: { ping: async () => void (await listTopics(stackEnv.kafkaBrokers)), lag: () => Promise.resolve([]) },
    topicPrefix: 'sluice-test.',
    maxRecordBytes: 4096,
    bodyLimitBytes: 64 * 1024,
    fleet: ownFleet,
    // Stores only: a test drives the rollout engine itself (deps.policies.engine.tick()) or starts it.
    policies: createPolicyServices(pool),
    operators: createOperatorServices(pool),
    // Counts the stores of the local stack; a test that loads records passes its own (its data schema, bucket).
    fleetHealth: fleetHealthFromConfig(loadConfig(), pool),
    ...overrides,
  };
  const app = await buildServer(deps);
  return {
    app,
    deps,
    close: async () => {
      await app.close();
      await deps.policies?.close();
      await ownFleet?.close();
      await producer?.close();
    },
  };
}
