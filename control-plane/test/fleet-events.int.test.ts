/**
 * Fleet events over real PostgreSQL LISTEN/NOTIFY: delivered on commit only, to this schema's listeners
 * only, and after the listening connection is killed the listener reconnects, says `resync` (caches must
 * drop what they hold) and hears events again. Meanwhile `connected` is false, so nothing cached is trusted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../src/db/transaction.ts';
import { FleetEvents, notifyFleet, type FleetListener } from '../src/fleet/fleet-events.ts';
import { freshState, suffix } from './support/state.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let other: Awaited<ReturnType<typeof freshState>>;
const events: FleetEvents[] = [];

beforeAll(async () => {
  state = await freshState();
  other = await freshState();
});

afterAll(async () => {
  for (const e of events) await e.stop();
  await state?.drop();
  await other?.drop();
});

async function listening(pool: typeof state.pool, applicationName: string): Promise<{ events: FleetEvents; heard: Parameters<FleetListener>[0][] }> {
  const fleetEvents = new FleetEvents(pool, { reconnectMs: 50, applicationName });
  const heard: Parameters<FleetListener>[0][] = [];
  fleetEvents.on((event) => heard.push(event));
  await fleetEvents.start();
  events.push(fleetEvents);
  return { events: fleetEvents, heard };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(10);
}

describe('FleetEvents', () => {
  it('delivers on commit, never for a rollback, and only within its own schema', async () => {
    const mine = await listening(state.pool, `fleet-events-test-${suffix()}`);
    const theirs = await listening(other.pool, `fleet-events-test-${suffix()}`);
    mine.heard.length = 0;
    theirs.heard.length = 0;
    await withTransaction(state.pool, async (client) => {
      await notifyFleet(client, { kind: 'desired-changed', agentIds: ['a-1'] });
      await sleep(200);
      // Not yet: NOTIFY is delivered when the transaction commits.
      expect(mine.heard).toEqual([]);
    });
    await withTransaction(state.pool, (client) => notifyFleet(client, { kind: 'agent-changed', agentIds: ['rolled-back'] }).then(() => Promise.reject(new Error('roll back')))).catch(() => undefined);
    await notifyFleet(state.pool, { kind: 'revision-published' });
    await until(() => mine.heard.length >= 2);
    await sleep(100);
    expect(mine.heard).toEqual([{ kind: 'desired-changed', agentIds: ['a-1'] }, { kind: 'revision-published' }]);
    expect(theirs.heard).toEqual([]);
  });

  it('reconnects after its connection is killed, reporting resync, and hears events again', async () => {
    const name = `fleet-events-test-${suffix()}`;
    const mine = await listening(state.pool, name);
    expect(mine.events.connected).toBe(true);
    mine.heard.length = 0;
    const killed = await state.pool.query<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [name]);
    expect(killed.rows).toEqual([{ ok: true }]);
    await until(() => !mine.events.connected, 2000);
    await until(() => mine.events.connected && mine.heard.some((e) => e.kind === 'resync'));
    expect(mine.heard).toEqual([{ kind: 'resync' }]);
    await notifyFleet(state.pool, { kind: 'rollout-changed' });
    await until(() => mine.heard.length >= 2);
    expect(mine.heard).toEqual([{ kind: 'resync' }, { kind: 'rollout-changed' }]);
  });
});
