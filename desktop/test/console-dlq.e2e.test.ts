/**
 * The DLQ and the ledger in the console as an operator uses them: Debian's Chromium (playwright-core,
 * headless, 1280x800) against a real fleet (scripts/test/support/fleet-harness.ts): a control plane `serve`
 * process serving the renderer build at /console, a `consume` process, Kafka, PostgreSQL, and a real agent
 * tailing a JSON-lines file. The agent ships a record its dataset's schema refuses; the operator finds it in
 * the DLQ screen with its reason, opens it (original bytes as text and hex), dry-runs it against the first
 * schema version (0 would pass) and against a second one that accepts it (1 would pass), replays it, and
 * sees it loaded and the ledger balance. The fleet, the console's own build and the browser come from
 * support/console-on-fleet.ts. Screenshots go to test-artifacts/console-dlq/.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DlqListResponse } from '@sluice/shared/api/dlq';
import type { FleetHarness } from '../../scripts/test/support/fleet-harness.ts';
import { startConsoleOnFleet, USER, type ConsoleOnFleet } from './support/console-on-fleet.ts';

/** The consumer keeps a dataset's latest schema version this long (dataset-store.ts). */
const SCHEMA_CACHE_MS = 5_000;

let cof: ConsoleOnFleet;
let fleet: FleetHarness;
let page: Page;
let dataset = '';
let publishedAt = 0;

// Version 2 accepts hotter readings; the column keeps its type (a retyped column would refuse the record in
// PostgreSQL, a sink failure no dry run can foresee).
const v1 = { type: 'object', required: ['device', 'temperature'], properties: { device: { type: 'string' }, temperature: { type: 'number', maximum: 100 } } };
const v2 = { type: 'object', required: ['device', 'temperature'], properties: { device: { type: 'string' }, temperature: { type: 'number', maximum: 200 } } };

const shot = (name: string, full = false) => cof.shot(name, full);
const keepOnFailure = (name: string) => cof.keepOnFailure(name);
/** The select under the label that starts with `label` (a label's text includes its options'). */
const select = (label: string) => page.locator('label').filter({ hasText: new RegExp(`^${label}`) }).locator('select');
const entries = () => fleet.api.expect<DlqListResponse>('GET', `/api/v1/dlq?dataset=${dataset}`);
const loadedRows = async () => Number((await fleet.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${fleet.dataSchema}.${dataset}`)).rows[0]?.n ?? 0);

beforeAll(async () => {
  cof = await startConsoleOnFleet('console-dlq', { fleetName: 'cdlq', consume: true, env: { SLUICE_LEDGER_SETTLE_SECONDS: '2' } });
  ({ fleet, page } = cof);
  dataset = `cdlq_${fleet.id}`;
  await fleet.api.expect('POST', '/api/v1/datasets', { name: dataset, sinks: { postgres: { enabled: true } }, schema: v1 }, [201]);
  const logs = join(fleet.root, 'logs');
  mkdirSync(logs);
  appendFileSync(join(logs, 'readings.log'), '');
  await fleet.api.createPolicy('readings', {});
  const revision = await fleet.api.publish('readings', { sources: [{ type: 'file', id: 'readings', dataset, format: 'json', include: [join(logs, '*.log')] }] }, 'tail the readings');
  const agent = await fleet.addAgent('gw-dlq', await fleet.api.createEnrollmentToken({ maxUses: 1 }));
  await fleet.untilApplied([agent.agentId], revision.hash);
  // Version 1 takes at most 100: this reading is dead-lettered with its reason.
  appendFileSync(join(logs, 'readings.log'), `${JSON.stringify({ device: 'd-1', temperature: 120 })}\n`);
  await fleet.until('the reading in the DLQ', async () => ((await entries()).total === 1 ? true : undefined), 60_000);
}, 180_000);

afterAll(async () => {
  await cof?.close();
});

describe('the DLQ and the ledger in the console', () => {
  it('shows the dead-lettered record with its reason, counted by reason', async () => {
    keepOnFailure('dlq');
    await page.goto(`${cof.consoleUrl}#/dlq`);
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dead-letter queue' }).waitFor({ timeout: 15_000 });
    await select('Dataset').selectOption(dataset);
    const row = page.locator('table.dlq-entries tbody tr').first();
    await row.waitFor();
    expect(await row.textContent()).toContain('schema mismatch');
    expect(await row.textContent()).toContain(`does not match schema version 1 of ${dataset}: /temperature: must be <= 100`);
    expect(await page.locator('table.dlq-counts').textContent()).toContain('schema mismatch');
    await shot('dlq');
  });

  it('opens the entry: the reason, the path, the original as text and as hex', async () => {
    keepOnFailure('dlq-entry');
    await page.locator('table.dlq-entries tbody tr').first().getByRole('link').click();
    await page.getByRole('heading', { name: /Dead-lettered record #/ }).waitFor();
    expect(await page.locator('.reason-text').textContent()).toContain('/temperature: must be <= 100');
    expect(await page.getByLabel('Original as text').textContent()).toContain('"temperature": 120');
    await shot('dlq-entry', true);
    await page.getByRole('button', { name: 'Hex' }).click();
    expect(await page.getByLabel('Original as hex').textContent()).toMatch(/^00000000 {2}7b 22/);
    await page.goBack();
    await page.getByRole('heading', { name: 'Dead-letter queue' }).waitFor();
  });

  it('dry-runs it against version 1 (0 would pass) and against a version that accepts it (1 would pass)', async () => {
    keepOnFailure('dlq-dry-run');
    await fleet.api.expect('POST', `/api/v1/datasets/${dataset}/versions?force=true`, { schema: v2 }, [201]);
    publishedAt = Date.now();
    // The datasets list (and so the version picker) is read when the screen opens: open it again.
    await page.reload();
    await select('Dataset').selectOption(dataset);
    await page.locator('table.dlq-entries tbody tr').first().waitFor();
    await page.getByRole('checkbox', { name: /^Choose entry / }).first().check();
    const figure = (name: string) => page.locator(`[aria-label="Dry run result"] [data-figure="${name}"]`).textContent();

    await select('Schema version').selectOption({ label: `version 1 of ${dataset}` });
    await page.getByRole('button', { name: 'Dry run' }).click();
    await expect.poll(() => figure('wouldFail')).toBe('1');
    expect(await figure('wouldPass')).toBe('0');

    await select('Schema version').selectOption({ label: `version 2 of ${dataset}` });
    await page.getByRole('button', { name: 'Dry run' }).click();
    await expect.poll(() => figure('wouldPass')).toBe('1');
    expect(await page.getByRole('status', { name: 'Dry run result' }).textContent()).toContain(`Against schema version 2 of ${dataset}: 1 of 1 entry would pass, 0 would fail again.`);
    await shot('dlq-dry-run');
  });

  it('replays it: the record is loaded once', async () => {
    keepOnFailure('dlq-replay');
    await sleep(Math.max(0, publishedAt + SCHEMA_CACHE_MS + 500 - Date.now()));
    await page.getByRole('checkbox', { name: /^Choose entry / }).first().check();
    await page.getByRole('button', { name: 'Replay…' }).click();
    await page.getByRole('group', { name: 'Confirm the replay' }).getByRole('button', { name: 'Replay' }).click();
    await expect.poll(() => page.getByRole('status', { name: 'Replay result' }).textContent()).toContain('Replayed 1 entry.');
    await fleet.until('the replayed reading in PostgreSQL', async () => ((await loadedRows().catch(() => 0)) === 1 ? true : undefined), 30_000);
    // Nothing waits any more; the entry shows its replay.
    await page.getByText('No dead-lettered record matches the filter.').waitFor({ timeout: 20_000 });
    await shot('dlq-replayed');
    const [entry] = (await entries()).items;
    expect(entry?.replayedAt).not.toBeNull();
    await page.goto(`${cof.consoleUrl}#/dlq/${entry!.id}`);
    await page.getByRole('table', { name: 'Replay history' }).waitFor();
    expect(await page.getByRole('table', { name: 'Replay history' }).locator('tbody tr').count()).toBe(1);
    expect(await loadedRows()).toBe(1);
  });

  it('shows the ledger balanced: shipped 1, loaded 1, nothing dead-lettered or missing', async () => {
    keepOnFailure('ledger');
    const hour = { dataset, from: new Date(Date.now() - 3_600_000).toISOString() };
    await fleet.until(
      'the ledger to balance',
      async () => {
        const rows = await fleet.api.ledger(hour);
        const sum = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((n, r) => n + pick(r), 0);
        return sum((r) => r.shipped) === 1 && sum((r) => r.loadedEverywhere) === 1 && sum((r) => r.deadLettered + r.inFlight + r.missing) === 0 ? true : undefined;
      },
      60_000,
      500,
    );
    await page.getByRole('link', { name: 'Ledger' }).click();
    await page.getByRole('heading', { name: 'Ledger' }).waitFor();
    await select('Dataset').selectOption(dataset);
    const pair = page.locator('table.ledger-table tbody tr[data-pair]').first();
    await expect.poll(() => pair.textContent(), { timeout: 20_000 }).toContain('balanced');
    expect(await pair.locator('td.num').allTextContents()).toEqual(['1', '1', '0', '0', '0']);
    expect(await page.locator('.ledger-totals [data-figure="missing"]').textContent()).toBe('0');
    await pair.getByRole('button', { name: /show 1 minute/ }).click();
    await page.locator('table.ledger-table tr.minute').first().waitFor();
    await shot('ledger');
  });

  it('met no script error, CSP violation or refused call on the way', () => {
    expect(cof.problems).toEqual([]);
  });
});
