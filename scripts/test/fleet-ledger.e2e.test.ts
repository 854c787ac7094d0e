/**
 * The ledger through real agents: what each agent says it shipped, per dataset and minute, against what
 * PostgreSQL and the search index hold. After a load it balances row by row (nothing in flight, nothing
 * missing); rows deleted from PostgreSQL behind the pipeline's back show up as missing in their minutes,
 * for that agent only.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetAgent } from './support/fleet-agent.ts';
import type { LedgerRow } from './support/fleet-api.ts';
import { FleetHarness, LineFeed } from './support/fleet-harness.ts';

const RECORDS = 400;

let fleet: FleetHarness;
let feed: LineFeed;
let dataset = '';
let agents: FleetAgent[] = [];
const since = new Date(Date.now() - 10 * 60_000).toISOString();

async function ledger(agent?: FleetAgent): Promise<LedgerRow[]> {
  return fleet.api.ledger({ dataset, from: since, to: new Date(Date.now() + 10 * 60_000).toISOString(), ...(agent ? { agent: agent.agentId } : {}) });
}

const sum = (rows: LedgerRow[], pick: (r: LedgerRow) => number | undefined): number => rows.reduce((n, r) => n + (pick(r) ?? 0), 0);

beforeAll(async () => {
  fleet = await FleetHarness.start({ name: 'ledger', consume: true, env: { SLUICE_LEDGER_SETTLE_SECONDS: '2' } });
  dataset = `fleet_ledger_${fleet.id}`;
  await fleet.createDataset(dataset, { search: true });
  const logs = join(fleet.root, 'logs');
  mkdirSync(logs);
  feed = new LineFeed(join(logs, 'load.log'));
  await fleet.api.createPolicy('ledger', {});
  const rev = await fleet.api.publish('ledger', { sources: [{ type: 'file', id: 'load', dataset, include: [join(logs, '*.log')] }] }, 'tail the load');
  const token = await fleet.api.createEnrollmentToken({ maxUses: 2 });
  agents = [await fleet.addAgent('meter-a', token), await fleet.addAgent('meter-b', token)];
  await fleet.untilApplied(agents.map((a) => a.agentId), rev.hash);
}, 180_000);

afterAll(async () => {
  await fleet?.close();
});

describe('fleet ledger (real agents, consumer and stores)', () => {
  it('balances per agent, dataset and minute after a load', async () => {
    // Both agents tail the same file: each ships every line under its own id.
    feed.write(RECORDS / 2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    feed.write(RECORDS / 2);
    const rows = await fleet.until(
      'the ledger to balance',
      async () => {
        const all = await ledger();
        const settled = agents.every((a) => sum(all.filter((r) => r.agentId === a.agentId), (r) => r.shipped) === RECORDS);
        return settled && all.every((r) => r.inFlight === 0 && r.loadedEverywhere === r.shipped) ? all : undefined;
      },
      90_000,
      1000,
    );
    for (const row of rows) {
      expect(row.dataset).toBe(dataset);
      expect(new Date(row.minute).getUTCSeconds()).toBe(0);
      expect(row).toMatchObject({ inFlight: 0, missing: 0, deadLettered: 0, missingIn: [] });
      expect(row.loaded).toEqual({ postgres: row.shipped, search: row.shipped });
    }
    // What the ledger counts as loaded is what the table holds.
    const { rows: counted } = await fleet.pool.query<{ agent_id: string; n: string }>(`SELECT agent_id, count(*) AS n FROM ${fleet.dataSchema}.${dataset} GROUP BY agent_id`);
    for (const agent of agents) expect(Number(counted.find((c) => c.agent_id === agent.agentId)?.n)).toBe(RECORDS);
  });

  it('shows records deleted from PostgreSQL behind its back as missing, in their minutes', async () => {
    const [victim, bystander] = agents as [FleetAgent, FleetAgent];
    const { rows: deleted } = await fleet.pool.query<{ minute: Date }>(
      `DELETE FROM ${fleet.dataSchema}.${dataset} WHERE id IN (SELECT id FROM ${fleet.dataSchema}.${dataset} WHERE agent_id = $1 ORDER BY id LIMIT 25)
       RETURNING date_trunc('minute', ingest_time) AS minute`,
      [victim.agentId],
    );
    expect(deleted).toHaveLength(25);
    const perMinute = new Map<number, number>();
    for (const d of deleted) perMinute.set(d.minute.getTime(), (perMinute.get(d.minute.getTime()) ?? 0) + 1);

    // A minute still settling counts what is not in every store as in flight; once settled, as missing.
    const rows = await fleet.until(
      'the deleted rows to show as missing',
      async () => {
        const mine = await ledger(victim);
        return sum(mine, (r) => r.missing) === 25 ? mine : undefined;
      },
      90_000,
      1000,
    );
    for (const row of rows) {
      const gone = perMinute.get(Date.parse(row.minute)) ?? 0;
      expect(row.missing, row.minute).toBe(gone);
      expect(row.inFlight, row.minute).toBe(0);
      expect(row.loaded.postgres, row.minute).toBe(row.shipped - gone);
      // The search index still has them all: "missing" names the store that lost them.
      expect(row.loaded.search, row.minute).toBe(row.shipped);
      expect(row.missingIn, row.minute).toEqual(gone > 0 ? ['postgres'] : []);
    }
    const untouched = await ledger(bystander);
    expect(sum(untouched, (r) => r.missing + r.inFlight)).toBe(0);
    expect(sum(untouched, (r) => r.loaded.postgres)).toBe(RECORDS);
  });
});
