/**
 * What the console's browser tests run against: the renderer built fresh from the sources, served by a real
 * control plane on port 0 (its own PostgreSQL state schema, Kafka from the local stack), with a user made
 * through the REST API, an agent enrolled through it and checked in (online), and a policy with a rollout
 * for the health charts. Screenshots go to test-artifacts/<test>/ (not committed).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ApiKeyStore } from '../../../control-plane/src/auth/api-keys.ts';
import { bearer, checkinBody, createToken, enrolledAgent, okCheckin } from '../../../control-plane/test/support/fleet-requests.ts';
import { freshState } from '../../../control-plane/test/support/state.ts';
import { testServer } from '../../../control-plane/test/support/test-server.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

export const ROOT = join(import.meta.dirname, '../../..');
/** Each test file's screenshots, in a folder of its own emptied at its start: what is there is from the last run. */
export const artifactsOf = (name: string): string => join(ROOT, 'test-artifacts', name);
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'];
export const USER = { username: 'e2e-operator', password: 'a long console test passphrase', role: 'operator' } as const;
/** The bootstrap admin API key: a test makes more users and data through the REST API with it. */
export const ADMIN_KEY = 'console-e2e-bootstrap-admin-0123456789abcdef';

export interface ConsoleUnderTest {
  baseUrl: string;
  agentId: string;
  close(): Promise<void>;
}

/**
 * Debian's Chromium, headless, with one 1280x800 page; `problems` collects what a page must not meet: answers
 * >= 400 (with their body), script errors, and console errors (a CSP violation lands there).
 */
export async function openBrowser(): Promise<{ browser: Browser; page: Page; problems: string[] }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) void response.text().then((body) => problems.push(`${String(response.status())} ${response.url()}: ${body.slice(0, 200)}`));
  });
  page.on('console', (message) => {
    // A failed answer is reported by the response listener, with its body.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console error: ${message.text()}`);
  });
  return { browser, page, problems };
}

/**
 * `vite build` of desktop/vite.config.ts: the build the control plane serves at /console, into its usual
 * folder or into `outDir` (a test's own, so another test's build cannot empty it under a running page).
 */
export function buildConsole(outDir?: string): void {
  const out = outDir === undefined ? [] : ['--outDir', outDir, '--emptyOutDir'];
  execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(ROOT, 'desktop/vite.config.ts'), ...out, '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
}

export async function startConsole(artifacts: string): Promise<ConsoleUnderTest> {
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  buildConsole();
  const state = await freshState();
  await new ApiKeyStore(state.pool).bootstrapAdmin(ADMIN_KEY);
  const server = await testServer(state.pool);
  const { app } = server;
  const admin = bearer(ADMIN_KEY);
  const created = await app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: USER });
  expect(created.statusCode, created.body).toBe(201);

  const token = await createToken(app, ADMIN_KEY, { labels: { site: 'berlin' } });
  const agent = await enrolledAgent(app, token.token, 'gw-console');
  // Two check-ins with a change between them (apply state, counters, outbox), so the history has two entries.
  const first = checkinBody();
  await okCheckin(app, agent, { ...first, apply: { ...first.apply, state: 'applying' }, health: { ...first.health, outbox: { rows: 40, bytes: 8000, oldestAgeMs: 2000 } } });
  await waitFor(async () => (await app.inject({ url: `/api/v1/agents/${agent.agentId}`, headers: admin })).json<{ checkins: unknown[] }>().checkins.length === 1, 10_000, 'the first check-in in the history');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const second = checkinBody();
  await okCheckin(app, agent, {
    ...second,
    health: { ...second.health, startedAt: first.health.startedAt, outbox: { rows: 320, bytes: 64_000, oldestAgeMs: 4_000 }, datasets: [{ dataset: 'sensors', read: 70, committed: 70, shipped: 70 }] },
  });
  // The check-in writer flushes in the background; the fleet table reads what it wrote.
  await waitFor(
    async () => {
      const detail = (await app.inject({ url: `/api/v1/agents/${agent.agentId}`, headers: admin })).json<{ connectivity: string; checkins: unknown[] }>();
      return detail.connectivity === 'online' && detail.checkins.length === 2;
    },
    10_000,
    'the agent online after its check-ins',
  );

  // The dataset the agent ships to, a policy for the agent's labels and a rollout of its second revision,
  // drawn on the health charts.
  const source = (include: string) => ({ sources: [{ type: 'file', id: 'app-log', dataset: 'sensors', include: [include] }] });
  for (const [url, payload] of [
    ['/api/v1/datasets', { name: 'sensors', sinks: {}, schema: { type: 'object' } }],
    ['/api/v1/policies', { name: 'berlin', selector: { labels: { site: 'berlin' } } }],
    ['/api/v1/policies/berlin/revisions', { config: source('/var/log/app/*.log') }],
    ['/api/v1/policies/berlin/revisions', { config: source('/var/log/app/**/*.log') }],
    ['/api/v1/policies/berlin/rollouts', { revision: 2, strategy: { kind: 'all' } }],
  ] as const) {
    const res = await app.inject({ method: 'POST', url, headers: admin, payload });
    expect(res.statusCode, `${url}: ${res.body}`).toBe(201);
  }

  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    baseUrl,
    agentId: agent.agentId,
    close: async () => {
      await server.close();
      await state.drop();
    },
  };
}
