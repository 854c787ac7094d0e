/**
 * The console as an operator uses it: Debian's Chromium (playwright-core, headless, 1280x800) against a real
 * control plane serving the real renderer build at /console (support/console-under-test.ts). A user made
 * through the REST API logs in (a wrong password first), sees the agent enrolled through the REST API online
 * in the fleet table, filters it, opens its detail by keyboard, reads pipeline health with the rollout marked,
 * and stays logged in across a reload. Every screen is screenshotted into test-artifacts/console/, and a
 * failing test leaves its page there too.
 */
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { artifactsOf, CHROMIUM, CHROMIUM_ARGS, startConsole, USER, type ConsoleUnderTest } from './support/console-under-test.ts';

const ARTIFACTS = artifactsOf('console');

let cut: ConsoleUnderTest;
let baseUrl: string;
let agentId: string;
let browser: Browser;
let page: Page;
const pageProblems: string[] = [];

/** The 1280x800 viewport, and for long pages the whole page too (`<name>-full.png`). */
async function shot(name: string, full = false): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  if (full) await page.screenshot({ path: join(ARTIFACTS, `${name}-full.png`), fullPage: true });
}

/** Keeps the page as it was when a test failed. */
function keepOnFailure(name: string): void {
  onTestFailed(async () => {
    await page.screenshot({ path: join(ARTIFACTS, `FAILED-${name}.png`), fullPage: true }).catch(() => undefined);
  });
}

beforeAll(async () => {
  cut = await startConsole(ARTIFACTS);
  ({ baseUrl, agentId } = cut);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) void response.text().then((body) => pageProblems.push(`${String(response.status())} ${response.url()}: ${body.slice(0, 200)}`));
  });
  page.on('console', (message) => {
    // A failed answer is reported by the response listener, with its body; a CSP violation lands here.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageProblems.push(`console error: ${message.text()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await cut?.close();
});

describe('the web console at /console', () => {
  it('refuses a wrong password with a clear message', async () => {
    keepOnFailure('login-wrong-password');
    await page.goto(`${baseUrl}/console/`);
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong username or password.');
    await shot('login-error');
  });

  it('logs in and shows the enrolled agent online in the fleet table', async () => {
    keepOnFailure('fleet');
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    const row = page.locator(`tr[data-agent="${agentId}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.locator('.badge').first().textContent()).toBe('online');
    expect(await row.textContent()).toContain('site=berlin');
    expect(await page.locator('.app-header .who').textContent()).toContain('e2e-operator (operator)');
    await shot('fleet');

    await page.getByRole('searchbox').fill('no-such-agent');
    await page.getByText('No agent matches the filter.').waitFor();
    await page.getByRole('button', { name: 'Clear the filter' }).click();
    await row.waitFor();
  });

  it('opens the agent detail: sources, outbox, check-in history', async () => {
    keepOnFailure('agent');
    // By keyboard, as a person without a mouse would: the agent's name is a link.
    await page.getByRole('link', { name: 'gw-console' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /gw-console/ }).waitFor();
    expect(page.url()).toContain(`#/agents/${agentId}`);
    const sources = page.locator('table', { has: page.locator('caption', { hasText: 'Sources' }) });
    expect(await sources.locator('tbody tr').first().textContent()).toContain('app-log');
    expect(await page.locator('table', { has: page.locator('caption', { hasText: 'Check-in history' }) }).locator('tbody tr').count()).toBe(2);
    await page.locator('figure.chart', { hasText: 'Records shipped per minute' }).locator('canvas').first().waitFor();
    await shot('agent', true);
  });

  it('shows pipeline health per dataset, with the rollout marked on the charts', async () => {
    keepOnFailure('health');
    await page.getByRole('link', { name: 'Pipeline health' }).click();
    await page.getByRole('heading', { name: 'sensors' }).waitFor({ timeout: 15_000 });
    expect(await page.locator('.dataset-health canvas').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('figure.chart').first().textContent()).toContain('Records loaded per minute');
    await shot('health');
    await page.goBack();
    await page.getByRole('heading', { name: /gw-console/ }).waitFor();
  });

  it('keeps the login across a reload (silent refresh), and the page hit no CSP violation or script error', async () => {
    keepOnFailure('reload');
    await page.reload();
    await page.getByRole('heading', { name: /gw-console/ }).waitFor({ timeout: 15_000 }).catch(() => undefined);
    // The wrong password's 401 is the only error answer the page may have met.
    expect(pageProblems).toEqual([expect.stringMatching(/^401 .*\/api\/v1\/auth\/login: .*wrong username or password/)]);
    await page.getByRole('heading', { name: /gw-console/ }).waitFor();
  });
});
