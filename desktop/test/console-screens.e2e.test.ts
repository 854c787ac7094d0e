/**
 * The Datasets and Audit screens as people use them: Debian's Chromium (playwright-core, headless, 1280x800)
 * against a real control plane serving the real renderer build at /console (support/console-under-test.ts).
 * An admin made through the REST API opens the datasets, reads a dataset's stores and schema versions,
 * proposes an incompatible version and reads its compatibility report (nothing is stored until it publishes
 * anyway), then finds what the set-up and they did in the audit log, with its before/after. The fleet table
 * shows the agent's outbox. An operator and a viewer are not shown the audit log. Screenshots go to
 * test-artifacts/console-screens/, and a failing test leaves its page there too.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ADMIN_KEY, artifactsOf, openBrowser, startConsole, USER, type ConsoleUnderTest } from './support/console-under-test.ts';

const ARTIFACTS = artifactsOf('console-screens');
const ADMIN = { username: 'e2e-admin', password: 'an admin console test passphrase', role: 'admin' } as const;
const VIEWER = { username: 'e2e-viewer', password: 'a viewer console test passphrase', role: 'viewer' } as const;
const V1 = { type: 'object', required: ['meter'], properties: { meter: { type: 'string', description: 'meter serial' }, kwh: { type: 'number' } } };
const V2 = { ...V1, properties: { ...V1.properties, site: { type: 'object', properties: { lat: { type: 'number' }, lon: { type: 'number' } } } } };
/** Drops kwh, retypes meter, adds a required field: three breaking changes. */
const BREAKING = { type: 'object', required: ['meter', 'tariff'], properties: { meter: { type: 'integer' }, site: V2.properties.site, tariff: { type: 'string' } } };

let cut: ConsoleUnderTest;
let browser: Browser;
let page: Page;
let pageProblems: string[] = [];

async function rest(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${cut.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

function keepOnFailure(name: string): void {
  onTestFailed(async () => {
    await page.screenshot({ path: join(ARTIFACTS, `FAILED-${name}.png`), fullPage: true }).catch(() => undefined);
  });
}

async function logIn(user: { username: string; password: string; role: string }): Promise<void> {
  await page.goto(`${cut.baseUrl}/console/#/fleet`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('.app-header .who', { hasText: `${user.username} (${user.role})` }).waitFor({ timeout: 15_000 });
}

async function logOut(): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
}

const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name, exact: true });

beforeAll(async () => {
  cut = await startConsole(ARTIFACTS);
  for (const user of [ADMIN, VIEWER]) expect((await rest('POST', '/api/v1/users', user)).status).toBe(201);
  const created = await rest('POST', '/api/v1/datasets', {
    name: 'meters',
    description: 'Electricity meters, one reading per minute',
    partitionKey: 'meter',
    sinks: { postgres: { enabled: true }, objectStore: { enabled: true, partitionBy: 'day' } },
    schema: V1,
  });
  expect(created.status).toBe(201);
  expect((await rest('POST', '/api/v1/datasets/meters/versions', { schema: V2 })).status).toBe(201);
  ({ browser, page, problems: pageProblems } = await openBrowser());
});

afterAll(async () => {
  await browser?.close();
  await cut?.close();
});

describe('datasets and audit in the web console', () => {
  it('shows the fleet with the agent outbox, and the datasets with versions, stores and topics', async () => {
    keepOnFailure('datasets');
    await logIn(ADMIN);
    const agent = page.locator(`tr[data-agent="${cut.agentId}"]`);
    await agent.waitFor({ timeout: 15_000 });
    // As the set-up's last check-in reported it: depth, and the age of the oldest row below.
    expect(await agent.locator('td.outbox').textContent()).toBe('320 rows, 63 KiBoldest 4 s');
    await shot('fleet');

    await nav('Datasets').click();
    const meters = page.locator('tr[data-dataset="meters"]');
    await meters.waitFor({ timeout: 15_000 });
    expect(await meters.locator('td').allTextContents()).toEqual(['v2', 'PostgreSQL, Object store', 'sluice-test.meters', expect.any(String)]);
    expect(await page.locator('tr[data-dataset="sensors"] td').allTextContents()).toEqual(['v1', 'none', 'sluice-test.sensors', expect.any(String)]);
    await shot('datasets');
  });

  it('opens a dataset: stores, the latest schema fields, an earlier version', async () => {
    keepOnFailure('dataset');
    await page.getByRole('link', { name: 'meters' }).click();
    await page.getByRole('heading', { name: 'meters' }).waitFor();
    const stores = page.getByRole('table', { name: 'Stores' });
    expect(await stores.locator('tbody tr').allTextContents()).toEqual([
      'PostgreSQLyestable meters—',
      'Searchno——',
      'Object storeyesmeters/dt=…/daily partitions, gzip NDJSON',
    ]);
    const latest = page.getByRole('table', { name: 'Fields of version 2' });
    expect(await latest.locator('tbody th').allTextContents()).toEqual(['kwh', 'meter', 'site', 'site.lat', 'site.lon']);
    await shot('dataset');
    await page.getByRole('button', { name: 'v1', exact: true }).click();
    // Fetched when chosen (GET …/versions/1).
    await expect.poll(() => page.getByRole('table', { name: 'Fields of version 1' }).locator('tbody th').allTextContents()).toEqual(['kwh', 'meter']);
  });

  it('proposes an incompatible version: the report names each breaking change, and nothing is stored until published anyway', async () => {
    keepOnFailure('dataset-report');
    const editor = page.getByLabel('JSON Schema of the new version');
    expect(JSON.parse(await editor.inputValue())).toEqual(V2);
    await editor.fill(JSON.stringify(BREAKING, null, 2));
    await page.getByRole('button', { name: 'Check compatibility' }).click();
    const report = page.getByRole('status', { name: 'Compatibility report' });
    await report.waitFor();
    expect(await report.locator('.compat-verdict').textContent()).toContain('As version 3, against version 2: 3 of 3 changes break compatibility.');
    expect((await report.locator('tbody tr.compat-breaking th').allTextContents()).sort()).toEqual(['kwh', 'meter', 'tariff']);
    const publish = page.getByRole('button', { name: 'Publish version 3' });
    expect(await publish.isDisabled()).toBe(true);
    // The editor's end, the report and the refused publish in one view.
    await publish.scrollIntoViewIfNeeded();
    await shot('dataset-report');
    expect(((await rest('GET', '/api/v1/datasets/meters')).body as { latestVersion: number }).latestVersion).toBe(2);

    await page.getByRole('checkbox', { name: /Publish anyway/ }).check();
    await publish.click();
    await page.getByText('Version 3 published: records are validated against it from now on.').waitFor();
    await page.getByRole('button', { name: 'v3 (latest)' }).waitFor();
    expect(((await rest('GET', '/api/v1/datasets/meters')).body as { latestVersion: number }).latestVersion).toBe(3);
  });

  it('shows the audit log: what the set-up and the admin did, filtered, with before and after', async () => {
    keepOnFailure('audit');
    await nav('Audit').click();
    const rows = page.locator('tr[data-audit]');
    await rows.first().waitFor({ timeout: 15_000 });
    const actions = await rows.locator(':scope > th').allTextContents();
    expect(actions).toEqual(expect.arrayContaining(['dataset.version', 'dataset.create', 'user.create', 'enrollment-token.create', 'agent.enroll', 'policy.create', 'policy.publish', 'auth.login']));
    // Newest first: the forced version is the admin's last change.
    const newest = rows.filter({ hasText: 'dataset.version' }).first();
    expect(await newest.textContent()).toContain(`${ADMIN.username} (user)`);
    await shot('audit');

    await page.getByLabel('Action').fill('dataset.*');
    await page.getByLabel('Target').fill('dataset:meters');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(async () => rows.locator(':scope > th').allTextContents()).toEqual(['dataset.version', 'dataset.version', 'dataset.create']);
    await rows.first().locator('summary').click();
    const diff = rows.first().locator('details table');
    expect(await diff.locator(':scope > tbody > tr > th').allTextContents()).toEqual(['forced', 'schema.properties.kwh', 'schema.properties.meter.description', 'schema.properties.meter.type', 'schema.properties.tariff', 'schema.required[1]', 'version']);
    await shot('audit-diff');
    await logOut();
  });

  it('does not show the audit log to an operator or a viewer; a viewer reads datasets but proposes nothing', async () => {
    keepOnFailure('roles');
    for (const user of [USER, VIEWER]) {
      await logIn(user);
      expect(await nav('Datasets').count()).toBe(1);
      expect(await nav('Audit').count()).toBe(0);
      await page.goto(`${cut.baseUrl}/console/#/audit`);
      await page.getByText(`The audit log is for admins: your role is ${user.role}.`).waitFor();
      if (user.role === 'viewer') {
        await page.goto(`${cut.baseUrl}/console/#/datasets/meters`);
        await page.getByText('proposing a schema version needs the operator role', { exact: false }).waitFor();
        expect(await page.getByLabel('JSON Schema of the new version').count()).toBe(0);
        await shot('viewer-dataset');
      }
      await logOut();
    }
    expect(pageProblems).toEqual([]);
  });
});
