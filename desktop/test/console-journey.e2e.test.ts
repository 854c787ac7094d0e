/**
 * The operator's journey through the console, every piece real: Chromium (1280x800) on the console that a
 * control-plane `serve` process serves at /console, a `consume` process loading into PostgreSQL through
 * Kafka, and a fleet-managed agent process that enrolled with `sluice-agent enroll` and tails a log file
 * (support/console-on-fleet.ts). The operator logs in, sees the agent online, opens its policy, adds a source
 * with an invalid value (the problem is shown at its field and publishing stays off), fixes it, publishes it
 * as a staged rollout with the agent as its named canary, watches the agent become `applied` in the rollout
 * view, then drops a file the new source reads and sees the records loaded rise on Pipeline health.
 * Every screen is screenshotted into test-artifacts/console-journey/.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetAgent } from '../../scripts/test/support/fleet-agent.ts';
import type { RevisionView } from '../../scripts/test/support/fleet-api.ts';
import { startConsoleOnFleet, USER, type ConsoleOnFleet } from './support/console-on-fleet.ts';

const POLICY = 'journey';
const SOAK_SECONDS = 3;
const DROPPED_LINES = 300;

let cut: ConsoleOnFleet;
let page: Page;
let agent: FleetAgent;
let dataset = '';
let appLog = '';
let inbox = '';

/** `count` numbered lines appended to `file`. */
function writeLines(file: string, count: number, what: string): void {
  appendFileSync(file, Array.from({ length: count }, (_, i) => `${what} line ${String(i + 1)} at ${new Date().toISOString()}\n`).join(''));
}

/** The pipeline the operator types: the policy's own source plus one more, with `format` as given. */
function editedPipeline(format: string | undefined): string {
  const extra = { type: 'file', id: 'inbox', dataset, include: [join(inbox, '*.log')], ...(format === undefined ? {} : { format }) };
  return `${JSON.stringify({ sources: [{ type: 'file', id: 'app-logs', dataset, include: [appLog] }, extra] }, null, 2)}\n`;
}

/** The records loaded in the health window, as the dataset's summary line on Pipeline health says. */
async function loadedOnHealth(): Promise<number> {
  const summary = await page.locator('article.dataset-health', { has: page.getByRole('heading', { name: dataset }) }).locator('p.sub').first().textContent({ timeout: 15_000 });
  return Number(/^(\d+) loaded/.exec(summary ?? '')?.[1] ?? Number.NaN);
}

/** A screen's link in the header. */
const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name, exact: true });

/** Opens Pipeline health again from the header (a fresh read, as a person would) until `check` holds. */
async function untilHealth(check: (loaded: number) => boolean, what: string): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await nav('Fleet').click();
    await nav('Pipeline health').click();
    await page.getByRole('heading', { name: dataset }).waitFor({ timeout: 15_000 });
    const loaded = await loadedOnHealth();
    if (check(loaded)) return loaded;
    if (Date.now() > deadline) throw new Error(`${what}: the health screen says ${String(loaded)} loaded\n${cut.fleet.processes.describe(2000)}`);
    await page.waitForTimeout(2000);
  }
}

beforeAll(async () => {
  cut = await startConsoleOnFleet('console-journey', { fleetName: 'journey', consume: true });
  page = cut.page;
  const { fleet } = cut;
  dataset = `journey_${fleet.id}`;
  await fleet.createDataset(dataset);
  const logs = join(fleet.root, 'logs');
  inbox = join(fleet.root, 'inbox');
  mkdirSync(logs);
  mkdirSync(inbox);
  appLog = join(logs, 'app.log');
  writeLines(appLog, 40, 'app');

  await fleet.api.createPolicy(POLICY, { site: 'journey' });
  const rev1 = await fleet.api.publish(POLICY, { sources: [{ type: 'file', id: 'app-logs', dataset, include: [appLog] }] }, 'tail the app log');
  const token = await fleet.api.createEnrollmentToken({ labels: { site: 'journey' }, maxUses: 1 });
  agent = await fleet.addAgent('gw-journey', token);
  await fleet.untilApplied([agent.agentId], rev1.hash, 60_000);
}, 180_000);

afterAll(async () => {
  await cut?.close();
});

describe('the operator journey in the console (real control plane, consumer, Kafka, PostgreSQL and agent)', () => {
  it('logs in and sees the agent online', async () => {
    cut.keepOnFailure('fleet');
    await page.goto(cut.consoleUrl);
    await page.getByLabel('Username').fill(USER.username);
    await page.getByLabel('Password').fill(USER.password);
    await cut.shot('login');
    await page.getByRole('button', { name: 'Log in' }).click();
    const row = page.locator(`tr[data-agent="${agent.agentId}"]`);
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.locator('.badge').first().textContent(), { timeout: 15_000 }).toBe('online');
    expect(await row.textContent()).toContain('site=journey');
    await cut.shot('fleet');
  });

  it("opens the agent's policy and refuses an invalid value at its field, with publishing off", async () => {
    cut.keepOnFailure('policy-invalid');
    await nav('Policies').click();
    const row = page.locator(`tr[data-policy="${POLICY}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain('site=journey');
    await cut.shot('policies');

    await row.getByRole('link', { name: POLICY }).click();
    await page.getByRole('heading', { name: `Policy ${POLICY}` }).waitFor();
    const editor = page.getByLabel(/Pipeline \(JSON/);
    await expect.poll(() => editor.inputValue()).toContain(appLog);
    const invalid = editedPipeline('xml');
    await editor.fill(invalid);
    const problem = page.locator('.config-problems li[data-path="sources[1].format"]');
    await problem.waitFor();
    expect(await problem.textContent()).toContain('must be one of "text", "json"');
    const line = invalid.split('\n').findIndex((l) => l.includes('"xml"')) + 1;
    expect(await problem.getByRole('button').textContent()).toBe(`line ${String(line)}`);
    expect(await page.locator('.gutter-bad').textContent()).toBe(`● ${String(line)}`);
    expect(await page.getByRole('button', { name: 'Review changes' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: /^Publish/ }).isDisabled()).toBe(true);
    await problem.getByRole('button').click();
    await cut.shot('policy-invalid', true);
  });

  it('fixes it, reviews the diff and publishes it as a staged rollout with the agent as canary', async () => {
    cut.keepOnFailure('policy-review');
    await page.getByLabel(/Pipeline \(JSON/).fill(editedPipeline(undefined));
    await page.getByText('The config is valid.').waitFor();
    // The option left out is shown with the default agents will use.
    expect(await page.locator('tr[data-path="sources[id=inbox].format"]').textContent()).toBe('sources[id=inbox].format"text"');
    await page.getByRole('button', { name: 'Review changes' }).click();
    const added = page.locator('.diff-table tr.diff-added', { hasText: 'sources[id=inbox]' });
    await added.waitFor({ timeout: 15_000 });

    await page.getByLabel('Canaries', { exact: true }).selectOption('agents');
    await page.getByLabel('Canary agents (ids, comma-separated)').fill(agent.agentId);
    await page.getByLabel('Waves (% of the rest, comma-separated)').fill('');
    await page.getByLabel('Soak per wave (seconds)').fill(String(SOAK_SECONDS));
    await page.getByText('Health gate (empty fields keep their defaults)').click();
    // Nothing ships during the soak (the new file comes later), so the data-flow part of the gate is off.
    await page.getByLabel('Gate: min shipping ratio').fill('0');
    await page.getByLabel('Message').fill('read the inbox too');
    await cut.shot('policy-review', true);
    await page.getByRole('button', { name: 'Publish and start staged rollout' }).click();
    await page.getByText('Revision 2 published; its rollout started.').waitFor({ timeout: 15_000 });

    const rollouts = await cut.fleet.api.expect<{ items: Array<{ toRevision: number; strategy: unknown }> }>('GET', `/api/v1/policies/${POLICY}/rollouts`);
    expect(rollouts.items[0]?.toRevision).toBe(2);
    expect(rollouts.items[0]?.strategy).toMatchObject({ kind: 'staged', canary: { agents: [agent.agentId] }, soakSeconds: SOAK_SECONDS, gate: { minShippingRatio: 0 } });
  });

  it('shows the agent applying, then applied, and the rollout completed', async () => {
    cut.keepOnFailure('rollout');
    const rollout = page.locator('section.rollout').first();
    const agentRow = rollout.locator(`tr[data-agent="${agent.agentId}"]`);
    await agentRow.waitFor({ timeout: 15_000 });
    expect(await rollout.locator('caption').first().textContent()).toMatch(/^canaries/);
    await expect.poll(() => agentRow.locator('.badge').textContent(), { timeout: 60_000 }).toBe('applied');
    await page.getByRole('heading', { name: /Rollout \d+: revision 1 → 2/ }).scrollIntoViewIfNeeded();
    await cut.shot('rollout-applied');
    await expect.poll(() => rollout.locator('h3 .badge').textContent(), { timeout: 60_000 }).toBe('completed');
    const rev2 = await cut.fleet.api.expect<RevisionView>('GET', `/api/v1/policies/${POLICY}/revisions/2`);
    expect(agent.lastGood()?.hash).toBe(rev2.hash);
    // Once complete, revision 2 is current and the editor starts from it.
    await expect.poll(() => page.locator('tr[data-revision="2"]').textContent(), { timeout: 15_000 }).toContain('current');
    await cut.shot('rollout-completed', true);
  });

  it('sees the pipeline rate rise on Pipeline health when a file the new revision reads is dropped', async () => {
    cut.keepOnFailure('health');
    const before = await untilHealth((n) => n >= 40, 'the app log loaded');
    await cut.shot('health-before');
    writeLines(join(inbox, 'dropped.log'), DROPPED_LINES, 'inbox');
    const after = await untilHealth((n) => n >= before + DROPPED_LINES, `${String(DROPPED_LINES)} more records loaded`);
    expect(after).toBeGreaterThanOrEqual(before + DROPPED_LINES);
    await cut.shot('health-after', true);
  });

  it('met no script error, CSP violation or refused call on the way', () => {
    expect(cut.problems).toEqual([]);
  });
});
