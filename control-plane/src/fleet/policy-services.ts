/**
 * The policy side of one control-plane process: the policy and rollout stores the routes use and the
 * rollout engine `serve` runs (`start()` starts its ticker, `close()` waits for a tick in flight).
 */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import { PolicyStore } from './policy-store.ts';
import { RolloutEngine } from './rollout-engine.ts';
import { RolloutStore } from './rollout-store.ts';

export interface PolicyServices {
  policies: PolicyStore;
  rollouts: RolloutStore;
  engine: RolloutEngine;
  start(): void;
  close(): Promise<void>;
}

export interface PolicyServicesOptions {
  /** SLUICE_ROLLOUT_TICK_MS: how often running rollouts are stepped (default 1000). */
  tickMs?: number;
  now?: () => number;
  logger?: Logger | undefined;
  /** Counts rollbacks as they commit: automatic (a failed health gate) or manual (an operator's). */
  onRollback?: ((reason: 'automatic' | 'manual') => void) | undefined;
}

export function createPolicyServices(pool: pg.Pool, options: PolicyServicesOptions = {}): PolicyServices {
  const rollouts = new RolloutStore(pool, { ...(options.now ? { now: options.now } : {}), onRollback: options.onRollback });
  const engine = new RolloutEngine(pool, rollouts, options);
  return {
    policies: new PolicyStore(pool),
    rollouts,
    engine,
    start: () => engine.start(),
    close: () => engine.stop(),
  };
}
