/**
 * From an anomaly to a webhook, through the real engines: the detector opens an anomaly on panes the real
 * PostgreSQL sink wrote, a Prometheus of this test's own scrapes the control plane's /metrics and evaluates
 * deploy/prometheus/alerts.yml, an Alertmanager of its own (the config scripts/stack/alertmanager.sh renders
 * from deploy/alertmanager/, with 1 s grouping) posts the alert to a webhook server started here and to the
 * control plane's own receiver; resolving the anomaly resolves the alert. The stack's Prometheus is not used.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { freePort, ProcessGroup, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { AnomalyDetector } from '../src/analytics/anomaly-detector.ts';
import { PANE_MS } from '../src/analytics/pane-fold.ts';
import { PaneStore } from '../src/analytics/pane-store.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { PostgresSink } from '../src/sinks/postgres/postgres-sink.ts';
import { traffic, writeThroughSink } from './support/anomaly-traffic.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROMETHEUS = process.env.SLUICE_PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const ALERTMANAGER = process.env.SLUICE_ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';
const run = promisify(execFile);

const id = suffix();
const dataSchema = `aa_data_${id}`;
const schema = { type: 'object', properties: { site: { type: 'string' }, temp: { type: 'number' } } };
const ds: DatasetVersion = { spec: { name: `aa_${id}`, sinks: { postgres: { enabled: true } }, aggregations: [{ name: 'volume', groupBy: [], measures: [], distinct: [] }] }, version: 1, schema };
const T0 = Math.floor(Date.now() / PANE_MS) * PANE_MS - 180 * PANE_MS;

interface Notification {
  status: string;
  alerts: Array<{ status: string; labels: Record<string, string> }>;
}

const processes = new ProcessGroup({ keepChars: 20_000 });
let state: Awaited<ReturnType<typeof freshState>>;
let sink: PostgresSink;
let server: TestServer;
let webhook: Server;
const received: Notification[] = [];
let dir = '';
let cpUrl = '';
let viewer = '';
let boundary = T0 + 126 * PANE_MS;
let detector: AnomalyDetector;

function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<NonNullable<T>> {
  return waitFor(probe, { timeoutMs, intervalMs: 300, what, detail: () => `${processes.describe(3000)}\nwebhook received: ${JSON.stringify(received)}` });
}

beforeAll(async () => {
  state = await freshState(dataSchema);
  sink = new PostgresSink({ connectionString: stackEnv.pgUrl, schema: dataSchema, poolSize: 2, panes: new PaneStore(state.schema) });
  const datasets = new DatasetStore(state.pool);
  await datasets.create(ds.spec, schema);
  expect((await sink.prepare(ds)).kind).toBe('ok');
  await writeThroughSink(sink, ds, traffic(ds, T0, 140, ['gw-a'], (_agent, m) => (m >= 120 && m < 124 ? 500 : 60), 3));
  detector = new AnomalyDetector({ pool: state.pool, datasets: { list: () => Promise.resolve([ds]) }, dataSchema, intervalMs: 0, catchUpPanes: 200, finalBefore: () => Promise.resolve(boundary) });
  expect(await detector.runOnce()).toMatchObject({ opened: 2 });

  viewer = (await new ApiKeyStore(state.pool).create('viewer', 'prometheus and alertmanager')).key;
  server = await testServer(state.pool, { datasets, dataSchema });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  cpUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;

  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as Notification);
      res.end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;

  dir = await mkdtemp(join(tmpdir(), 'sluice-alerts-'));
  await writeFile(join(dir, 'prometheus.key'), viewer, { mode: 0o600 });
  const amPort = await freePort();
  const promPort = await freePort();
  // The shipped config, rendered by the stack's own script; only the timings are made short for the test,
  // and the test's webhook added beside the control plane's.
  await run('bash', ['-euo', 'pipefail', '-c', 'source scripts/stack/lib.sh; source scripts/stack/alertmanager.sh; alertmanager_render_config'], {
    cwd: ROOT,
    env: { ...process.env, SLUICE_ROOT: ROOT, STACK_DIR: dir, SLUICE_RUN_DIR: dir, SLUICE_CONTROL_PLANE_URL: cpUrl, SLUICE_ALERTMANAGER_URL: `http://127.0.0.1:${amPort}`, SLUICE_ALERT_WEBHOOK_URL: '' },
  });
  const amFile = join(dir, 'alertmanager', 'alertmanager.yml');
  const am = parse(await readFile(amFile, 'utf8')) as { route: Record<string, unknown>; receivers: Array<{ webhook_configs: unknown[] }> };
  expect(am.receivers[0]!.webhook_configs[0]).toMatchObject({ url: `${cpUrl}/api/v1/alerts/webhook`, http_config: { authorization: { type: 'Bearer', credentials_file: join(dir, 'prometheus.key') } } });
  Object.assign(am.route, { group_wait: '1s', group_interval: '1s', repeat_interval: '1h' });
  am.receivers[0]!.webhook_configs.push({ url: webhookUrl, send_resolved: true });
  await writeFile(amFile, stringify(am));
  const alertmanager = processes.start('alertmanager', [`--config.file=${amFile}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], { cwd: dir, command: ALERTMANAGER });
  await waitForHttpOk(`http://127.0.0.1:${amPort}/-/ready`, { child: alertmanager, output: () => processes.output('alertmanager'), what: 'alertmanager', timeoutMs: 30_000, intervalMs: 200 });

  await copyFile(join(ROOT, 'deploy/prometheus/alerts.yml'), join(dir, 'alerts.yml'));
  await writeFile(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['alerts.yml'],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
      scrape_configs: [{ job_name: 'sluice-control-plane', authorization: { type: 'Bearer', credentials_file: join(dir, 'prometheus.key') }, static_configs: [{ targets: [new URL(cpUrl).host] }] }],
    }),
  );
  const prometheus = processes.start(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--rules.alert.resend-delay=1s'],
    { cwd: dir, command: PROMETHEUS },
  );
  await waitForHttpOk(`http://127.0.0.1:${promPort}/-/ready`, { child: prometheus, output: () => processes.output('prometheus'), what: 'prometheus', timeoutMs: 60_000, intervalMs: 300 });
}, 180_000);

afterAll(async () => {
  await processes.stopAll();
  await new Promise((resolve) => (webhook ? webhook.close(resolve) : resolve(undefined)));
  await sink?.close();
  await server?.close();
  await state?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const alertsOf = (status: string) => received.flatMap((n) => n.alerts).filter((a) => a.status === status && a.labels.alertname === 'SluiceAnomaly' && a.labels.dataset === ds.spec.name);

describe('anomaly alerts: Prometheus rule → Alertmanager → webhook', () => {
  it('delivers a firing alert per anomalous series to the webhook and to the control plane receiver', async () => {
    const firing = await until('SluiceAnomaly firing at the webhook', () => Promise.resolve(alertsOf('firing').length >= 2 ? alertsOf('firing') : undefined));
    expect(new Set(firing.map((a) => a.labels.series))).toEqual(new Set(['volume', 'agent_volume:gw-a']));
    expect(firing[0]!.labels).toMatchObject({ severity: 'warning', direction: 'high' });
    const counted = await until('sluice_alert_notifications_total on the control plane', async () => {
      const text = await (await fetch(`${cpUrl}/metrics`, { headers: { authorization: `Bearer ${viewer}` } })).text();
      const match = /sluice_alert_notifications_total\{alertname="SluiceAnomaly",status="firing"\} (\d+)/.exec(text);
      return match && Number(match[1]) >= 2 ? Number(match[1]) : undefined;
    });
    expect(counted).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('sends the resolution once the detector resolves the anomaly', async () => {
    boundary = T0 + 135 * PANE_MS;
    expect(await detector.runOnce()).toMatchObject({ resolved: 2 });
    const resolved = await until('SluiceAnomaly resolved at the webhook', () => Promise.resolve(alertsOf('resolved').length >= 2 ? alertsOf('resolved') : undefined));
    expect(new Set(resolved.map((a) => a.labels.series))).toEqual(new Set(['volume', 'agent_volume:gw-a']));
  }, 120_000);
});
