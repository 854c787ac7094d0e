/**
 * The fleet side of one control-plane process, built once (`serve`, tests, the bench): the event listener,
 * the agent authenticator, enrollment, the agent store and the check-in service with its batched writer.
 * `start()` listens for fleet events and starts the writer's timer; `close()` ends held long-polls, writes
 * what is pending and stops listening.
 */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import { RateLimiter } from '../operators/rate-limit.ts';
import { AgentIdentity } from './agent-identity.ts';
import { AgentStore } from './agent-store.ts';
import type { ConnectivityThresholds } from './connectivity.ts';
import { CheckinService, sqlRevisionSource, type RevisionSource } from './checkin-service.ts';
import { CheckinWriter } from './checkin-writer.ts';
import { Enrollment } from './enrollment.ts';
import { FleetEvents } from './fleet-events.ts';
import { DEFAULT_CHECKIN_SETTINGS, type CheckinSettings } from './checkin-settings.ts';

export { DEFAULT_CHECKIN_SETTINGS, type CheckinSettings };

export interface FleetOptions {
  logger?: Logger | undefined;
  checkin?: Partial<CheckinSettings>;
  revisions?: RevisionSource;
  /** Enroll attempts per client address: rate and lockout (defaults: 120 a minute; 10 bad tokens lock it for 5 minutes). */
  enrollLimiter?: RateLimiter;
  /** Connectivity thresholds of GET /agents (SLUICE_AGENT_STALE_SECONDS / _OFFLINE_SECONDS; default 90 s, 300 s). */
  connectivity?: ConnectivityThresholds;
}

export interface Fleet {
  events: FleetEvents;
  agentAuth: AgentIdentity;
  enrollment: Enrollment;
  enrollLimiter: RateLimiter;
  agents: AgentStore;
  checkins: CheckinService;
  writer: CheckinWriter;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createFleet(pool: pg.Pool, options: FleetOptions = {}): Fleet {
  const settings = { ...DEFAULT_CHECKIN_SETTINGS, ...options.checkin };
  const events = new FleetEvents(pool, { logger: options.logger });
  const writer = new CheckinWriter(pool, { flushMs: settings.flushMs, historyRows: settings.historyRows, logger: options.logger });
  const checkins = new CheckinService(pool, events, writer, options.revisions ?? sqlRevisionSource(pool), settings);
  return {
    events,
    agentAuth: new AgentIdentity(pool, events),
    enrollment: new Enrollment(pool, events),
    enrollLimiter: options.enrollLimiter ?? new RateLimiter({ attempts: 120, windowMs: 60_000, failures: 10, lockoutMs: 5 * 60_000 }),
    agents: new AgentStore(pool, events, { historyLimit: settings.historyRows, ...(options.connectivity ? { connectivity: options.connectivity } : {}) }),
    checkins,
    writer,
    start: async () => {
      await events.start();
      writer.start();
    },
    close: async () => {
      checkins.close();
      try {
        await writer.close();
      } finally {
        await events.stop();
      }
    },
  };
}
