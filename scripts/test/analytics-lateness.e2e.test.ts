/**
 * Watermarks through a real fleet agent, consumer and control plane: a source that goes quiet gets its last
 * pane closed by its idle report (the wall-clock limit is an hour here, so nothing else could close it), and
 * a record that arrives for a closed pane still updates it and is counted late.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregatesResponse } from '@sluice/shared/api/analytics';
import { FleetHarness } from './support/fleet-harness.ts';

const MIN = 60_000;
let fleet: FleetHarness;
let dataset = '';
let log = '';

function writeEvents(times: readonly number[]): void {
  appendFileSync(log, times.map((t, i) => `${JSON.stringify({ ts: new Date(t).toISOString(), n: i })}\n`).join(''));
}

async function paneOf(start: number): Promise<AggregatesResponse['windows'][number] | undefined> {
  const q = new URLSearchParams({ aggregation: 'all', windowMinutes: '1', from: new Date(start).toISOString(), to: new Date(start + 1).toISOString() });
  const res = await fleet.api.expect<AggregatesResponse>('GET', `/api/v1/analytics/${dataset}/aggregates?${q.toString()}`);
  return res.windows[0];
}

async function rows(): Promise<number> {
  const { rows: r } = await fleet.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${fleet.dataSchema}.${dataset}`);
  return Number(r[0]!.n);
}

beforeAll(async () => {
  fleet = await FleetHarness.start({ name: 'lateness', consume: true });
  dataset = `lateness_${fleet.id}`;
  await fleet.api.expect('POST', '/api/v1/datasets', {
    name: dataset,
    sinks: { postgres: { enabled: true } },
    schema: { type: 'object' },
    eventTime: { field: '/ts', format: 'rfc3339' },
    aggregations: [{ name: 'all', measures: [{ field: '/n' }] }],
    lateness: { graceSeconds: 0, finalAfterSeconds: 3600 },
  });
  const logs = join(fleet.root, 'logs');
  mkdirSync(logs);
  log = join(logs, 'events.log');
  appendFileSync(log, '');
  await fleet.api.createPolicy('lateness', {});
  const rev = await fleet.api.publish('lateness', { sources: [{ type: 'file', id: 'events', dataset, format: 'json', include: [join(logs, '*.log')] }] }, 'tail events');
  const token = await fleet.api.createEnrollmentToken({ maxUses: 1 });
  const agent = await fleet.addAgent('gateway', token);
  await fleet.untilApplied([agent.agentId], rev.hash);
}, 180_000);

afterAll(async () => {
  await fleet?.close();
});

describe('watermarks and lateness (real agent, consumer and control plane)', () => {
  it("closes a quiet source's last pane through its idle watermark, then counts a record for it as late", async () => {
    // Twenty events in the current minute, then silence. Without the idle report the pane could only close by
    // the watermark passing its end (no newer events come) or by the one-hour limit.
    const pane = Math.floor(Date.now() / MIN) * MIN;
    writeEvents(Array.from({ length: 20 }, (_, i) => pane + i * 10));
    await fleet.until('the twenty rows', async () => ((await rows()) === 20 ? true : undefined), 60_000, 500);
    const open = await paneOf(pane);
    expect(open).toMatchObject({ count: 20, lateRows: 0 });
    if (Date.now() < pane + MIN) expect(open?.final).toBe(false);

    const closed = await fleet.until('the pane to be final', async () => {
      const w = await paneOf(pane);
      return w?.final === true ? w : undefined;
    }, 150_000, 1000);
    expect(closed).toMatchObject({ count: 20, lateRows: 0, final: true });

    // A straggler for the closed pane: it counts, and counts as late.
    writeEvents([pane + 30_000]);
    const late = await fleet.until('the late record in its pane', async () => {
      const w = await paneOf(pane);
      return w?.count === 21 ? w : undefined;
    }, 60_000, 500);
    expect(late).toMatchObject({ count: 21, lateRows: 1, final: true });
    expect(late.measures['/n']?.count).toBe(21);
    expect(await rows()).toBe(21);
  }, 300_000);
});
