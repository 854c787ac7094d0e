/**
 * What the fleet-health and ledger routes are given: the fleet summary, per-dataset pipeline health and the
 * ledger, built once per `serve` process (and per test server). All three read PostgreSQL and the stores
 * on request and keep no state but the consumer-lag cache, so any number of API processes agree.
 */
import type pg from 'pg';
import type { ControlPlaneConfig } from '../config.ts';
import { connectivityThresholds } from '../fleet/connectivity.ts';
import { FleetSummaryService } from '../fleet/fleet-summary.ts';
import { LedgerService } from '../fleet/ledger.ts';
import { storeCounters, type StoreCounters } from '../fleet/ledger-stores.ts';
import type { ConsumerLagReader } from './consumer-lag.ts';
import { PipelineHealthService } from './pipeline-health.ts';

export interface FleetHealthServices {
  summary: FleetSummaryService;
  pipeline: PipelineHealthService;
  ledger: LedgerService;
}

export interface FleetHealthOptions {
  pool: pg.Pool;
  settings: ControlPlaneConfig['fleetHealth'];
  counters: StoreCounters;
  topicPrefix: string;
  lag?: ConsumerLagReader | undefined;
}

export function createFleetHealth(o: FleetHealthOptions): FleetHealthServices {
  return {
    summary: new FleetSummaryService(o.pool, connectivityThresholds(o.settings)),
    pipeline: new PipelineHealthService({ pool: o.pool, lag: o.lag, topicPrefix: o.topicPrefix }),
    ledger: new LedgerService({ pool: o.pool, counters: o.counters, settleSeconds: o.settings.ledgerSettleSeconds }),
  };
}

/** The services as `serve` runs them: the stores counted with the settings the sinks write with. */
export function fleetHealthFromConfig(config: ControlPlaneConfig, pool: pg.Pool, lag?: ConsumerLagReader): FleetHealthServices {
  return createFleetHealth({ pool, settings: config.fleetHealth, counters: storeCounters(config, pool), topicPrefix: config.topicPrefix, lag });
}
