/**
 * The control plane's REST API built the way `serve` builds it (every service, so every route), without
 * listening and without PostgreSQL or Kafka: building registers routes and queries nothing, so the pool is
 * one that is never connected. The API reference is read off its route table.
 */
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../../control-plane/src/auth/api-keys.ts';
import { DatasetStore } from '../../control-plane/src/datasets/dataset-store.ts';
import { ValidatorCache } from '../../control-plane/src/datasets/validators.ts';
import { createFleet } from '../../control-plane/src/fleet/fleet-services.ts';
import type { StoreCounter, StoreCounters } from '../../control-plane/src/fleet/ledger-stores.ts';
import { createPolicyServices } from '../../control-plane/src/fleet/policy-services.ts';
import { createFleetHealth } from '../../control-plane/src/health/fleet-health-services.ts';
import { buildServer } from '../../control-plane/src/http/server.ts';
import { ControlPlaneMetrics } from '../../control-plane/src/metrics/metrics.ts';
import { createOperatorServices } from '../../control-plane/src/operators/operator-services.ts';

const unused = (): never => {
  throw new Error('the API reference build reached a dependency it must not use');
};

export async function buildDocsServer(): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  // Port 1 refuses at once, should anything ever connect.
  const pool = new pg.Pool({ connectionString: 'postgres://docs@127.0.0.1:1/docs', max: 1 });
  const counter: StoreCounter = { count: unused };
  const counters: StoreCounters = { postgres: counter, search: counter, objectStore: counter };
  const app = await buildServer({
    pool,
    datasets: new DatasetStore(pool),
    validators: new ValidatorCache(),
    apiKeys: new ApiKeyStore(pool),
    operators: createOperatorServices(pool),
    fleet: createFleet(pool),
    policies: createPolicyServices(pool),
    fleetHealth: createFleetHealth({ pool, settings: { agentStaleSeconds: 90, agentOfflineSeconds: 300, ledgerSettleSeconds: 120 }, counters, topicPrefix: 'sluice.' }),
    // The one origin CORS allows: set, so the preflight route the console needs is listed too.
    consoleOrigin: 'https://console.example.com',
    metrics: new ControlPlaneMetrics(),
    logger: createLogger('api-docs', { level: 'silent' }),
    produce: unused,
    produceOne: unused,
    kafka: { ping: unused, lag: unused },
    topicPrefix: 'sluice.',
    maxRecordBytes: 1024 * 1024,
    bodyLimitBytes: 10 * 1024 * 1024,
  });
  await app.ready();
  return {
    app,
    close: async () => {
      await app.close();
      await pool.end();
    },
  };
}
