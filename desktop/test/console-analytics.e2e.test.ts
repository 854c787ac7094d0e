/**
 * The Analytics screen as people use it: Debian's Chromium against a real control plane serving the real
 * renderer build. The data is real too: sluice-sim's IoT scenario written through the real PostgreSQL sink,
 * which folds the 1-minute panes the screen reads, an hour of it beforehand and a live stream at now while
 * the page is open (the real-time counters); two anomalies stand in the anomalies table as the detector
 * writes them. Screenshots go to test-artifacts/console-analytics/ (one of them is docs/images/console-analytics.png).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ApiKeyStore } from '../../control-plane/src/auth/api-keys.ts';
import { DatasetStore } from '../../control-plane/src/datasets/dataset-store.ts';
import { freshState, stackEnv, suffix } from '../../control-plane/test/support/state.ts';
import { testServer, type TestServer } from '../../control-plane/test/support/test-server.ts';
import { runSimulation, type SimulationOptions } from '../../bench/sim/simulator.ts';
import type { SimEvent } from '../../bench/sim/event-stream.ts';
import { PostgresSinkTarget } from '../../bench/sim/testing/postgres-sink-target.ts';
import { ADMIN_KEY, artifactsOf, buildConsole, openBrowser } from './support/console-under-test.ts';

const ARTIFACTS = artifactsOf('console-analytics');
const ADMIN = {
  username: 'e2e-analyst',
  password: 'an analytics console test passphrase',
  role: 'admin',
} as const;
const example = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../bench/sim/examples/iot-readings.dataset.json'), 'utf8'),
) as Record<string, unknown>;
const MINUTE = 60_000;
const HOUR_AGO = Math.floor(Date.now() / MINUTE) * MINUTE - 55 * MINUTE;
const dataSchema = `ca_data_${suffix()}`;

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let history: PostgresSinkTarget | undefined;
let liveTarget: PostgresSinkTarget | undefined;
let baseUrl = '';
let browser: Browser;
let page: Page;
let problems: string[] = [];
const live = new AbortController();
let liveRun: Promise<unknown> = Promise.resolve();

/** Three gateways, each carrying a third of the devices. */
const gateway = (e: SimEvent): string => `gw-${String(Number(e.entity.slice(4)) % 3)}`;

const sim = (over: Partial<SimulationOptions>): SimulationOptions => ({
  scenario: 'iot',
  seed: 5,
  entities: 30,
  ratePerSecond: 20_000,
  count: 6000,
  startMs: HOUR_AGO,
  timeScale: 10_000,
  skewMs: 0,
  lateFraction: 0,
  lateByMs: 0,
  anomalies: [],
  ...over,
});

async function rest(path: string, body: unknown): Promise<number> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.status;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function keepOnFailure(name: string): void {
  onTestFailed(async () => {
    await page
      .screenshot({ path: join(ARTIFACTS, `FAILED-${name}.png`), fullPage: true })
      .catch(() => undefined);
  });
}

beforeAll(async () => {
  const { mkdirSync, rmSync } = await import('node:fs');
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  buildConsole();
  state = await freshState(dataSchema);
  await new ApiKeyStore(state.pool).bootstrapAdmin(ADMIN_KEY);
  server = await testServer(state.pool, { dataSchema });
  baseUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
  expect(await rest('/api/v1/users', ADMIN)).toBe(201);
  expect(await rest('/api/v1/datasets', { ...example, name: 'iot_readings' })).toBe(201);
  expect(
    await rest('/api/v1/datasets', {
      ...example,
      name: 'iot_quiet',
      description: 'declares aggregations, has no records',
    }),
  ).toBe(201);

  const dataset = (await new DatasetStore(state.pool).latest('iot_readings'))!;
  const open = () =>
    PostgresSinkTarget.open({
      connectionString: stackEnv.pgUrl,
      dataSchema,
      stateSchema: state.schema,
      dataset,
      agentOf: gateway,
    });
  history = await open();
  liveTarget = await open();
  // 55 minutes of event time: 6,000 readings of 30 devices on two sites, device 7 reading 8 °C warm for 10 minutes.
  const loaded = await runSimulation(
    sim({ anomalies: [{ kind: 'shift', at: '20m', duration: '10m', target: 'dev-00007', delta: 8 }] }),
    { target: history },
  );
  expect(loaded.accepted).toBe(6000);
  // And a live stream at now, 20 a second, while the page is open.
  liveRun = runSimulation(
    sim({ ratePerSecond: 20, count: undefined, durationMs: 10 * MINUTE, startMs: Date.now(), timeScale: 1 }),
    { target: liveTarget, signal: live.signal },
  );

  // Two anomalies as the detector stores them: an open volume spike and a resolved measure shift.
  const at = (minutes: number) => new Date(HOUR_AGO + minutes * MINUTE);
  await state.pool.query(
    `INSERT INTO anomalies (dataset, series_kind, series_key, window_start, window_end, direction, observed, expected, band_low, band_high, score, state, opened_at, resolved_at)
     VALUES ('iot_readings', 'volume', '', $1, $2, 'high', 480, 110, 90, 130, 14.2, 'open', $2, NULL),
            ('iot_readings', 'measure', 'by_site|/temperature|avg|["site-001"]', $3, $4, 'high', 24.9, 21.4, 20.8, 22.0, 6.1, 'resolved', $5, $4)`,
    [at(40), at(42), at(20), at(30), at(21)],
  );
  ({ browser, page, problems } = await openBrowser());
});

afterAll(async () => {
  live.abort();
  await liveRun.catch(() => undefined);
  await browser?.close();
  await server?.close();
  await history?.close();
  await liveTarget?.close();
  await state?.drop();
});

describe('the analytics screen', () => {
  it('charts an aggregation per group with its anomalies marked, and lists counters and anomalies', async () => {
    keepOnFailure('analytics');
    await page.goto(`${baseUrl}/console/#/fleet`);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page
      .getByRole('navigation', { name: 'Screens' })
      .getByRole('link', { name: 'Analytics', exact: true })
      .click();
    await page.getByRole('heading', { name: 'Analytics', level: 1 }).waitFor({ timeout: 15_000 });

    // The dataset's first aggregation: volume, one group.
    await page.getByLabel('Dataset').selectOption('iot_readings');
    await expect
      .poll(() => page.locator('[data-figure="groups"]').textContent(), { timeout: 15_000 })
      .toMatch(/^1 group, \d+ windows; 2 anomalies marked$/);

    await page.getByLabel('Aggregation').selectOption('by_site');
    await expect
      .poll(() => page.locator('[data-figure="groups"]').textContent(), { timeout: 15_000 })
      .toMatch(/^2 groups, \d+ windows/);
    await page.getByLabel('Figure').selectOption({ label: 'temperature p95' });
    await page.locator('figure.chart figcaption', { hasText: 'temperature p95 (by_site)' }).waitFor();
    const chart = page.locator('figure.chart [role="img"]');
    expect(await chart.getAttribute('aria-label')).toMatch(
      /^temperature p95 \(by_site\): site-00[01] latest ([\d.]+|none), site-00[01] latest ([\d.]+|none)$/,
    );

    // The live stream's minute, counted as it arrives (refreshed every 5 s): the count moves on (or, at a
    // minute's turn, starts again).
    const volumeNow = page.locator('tr[data-counter="volume/all records"] td.num');
    await volumeNow.waitFor({ timeout: 20_000 });
    const first = await volumeNow.textContent();
    expect(Number(first!.replace(/,/g, ''))).toBeGreaterThan(0);
    await expect.poll(() => volumeNow.textContent(), { timeout: 20_000 }).not.toBe(first);

    const anomalies = page.getByRole('table', { name: 'Anomalies' });
    const rows = await Promise.all(
      (await anomalies.locator('tbody tr').all()).map((row) => row.locator('td').allTextContents()),
    );
    expect(rows).toEqual([
      [
        'open',
        'volume',
        'high',
        expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d – \d\d:\d\d$/),
        '480',
        '110',
        '90 – 130',
        '14.20',
      ],
      [
        'resolved',
        'temperature avg of site-001 (by_site)',
        'high',
        expect.any(String),
        '24.90',
        '21.40',
        '20.80 – 22',
        '6.10',
      ],
    ]);
    await shot('analytics');
  });

  it('says so when a dataset has nothing in range and no anomalies', async () => {
    keepOnFailure('analytics-empty');
    await page.getByLabel('Dataset').selectOption('iot_quiet');
    await page.getByText('No records in this range for volume.').waitFor({ timeout: 15_000 });
    await page.getByText('No anomalies in the last hour.').waitFor();
    expect(page.url()).toMatch(/#\/analytics\/iot_quiet$/);
    expect(problems).toEqual([]);
  });
});
