/**
 * Operations through the real processes (`serve`, `consume`, `sluice-agent run`) and a Prometheus of this
 * test's own (Debian binary, its own port, config and data folder, 1 s scrapes; the stack's Prometheus is
 * not touched): the consumer serves its counters on a port of its own, Prometheus scrapes them with a viewer
 * key, and every /metrics endpoint passes `promtool check metrics`.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { freePort, ProcessGroup, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { ownSchemas, testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROMETHEUS = process.env.SLUICE_PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const stack = loadStackEnv();
const id = randomBytes(4).toString('hex');
const dataset = `ops_${id}`;
const agentId = `ops-agent-${id}`;
const topicPrefix = testTopicPrefix(`ops${id}`);
const stateSchema = `ops_state_${id}`;
const dataSchema = `ops_data_${id}`;
ownSchemas(stateSchema, dataSchema);
const adminKey = `slk_${randomBytes(24).toString('base64url')}`;
const metricsKey = `slk_${randomBytes(24).toString('base64url')}`;
const agentToken = `sat_${randomBytes(24).toString('base64url')}`;
const pushToken = `push_${randomBytes(12).toString('hex')}`;

/** The services this file runs; their last output is shown when a wait times out. */
const processes = new ProcessGroup({ keepChars: 20_000 });
let dir = '';
let cpUrl = '';
let agentUrl = '';
let consumerUrl = '';
let promUrl = '';

function start(name: string, args: string[], env: Record<string, string>): ChildProcess {
  return args[0] === PROMETHEUS ? processes.start(name, args.slice(1), { cwd: ROOT, env, command: PROMETHEUS }) : processes.start(name, args, { cwd: ROOT, env });
}

/** A wait that, timed out, shows what the processes printed last. */
function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<NonNullable<T>> {
  return waitFor(probe, { timeoutMs, intervalMs: 300, what, detail: () => processes.describe(3000) });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-ops-'));
  const cpPort = await freePort();
  const agentPort = await freePort();
  cpUrl = `http://127.0.0.1:${cpPort}`;
  agentUrl = `http://127.0.0.1:${agentPort}`;
  const cpEnv = {
    SLUICE_HTTP_PORT: String(cpPort),
    SLUICE_STATE_SCHEMA: stateSchema,
    SLUICE_DATA_SCHEMA: dataSchema,
    SLUICE_TOPIC_PREFIX: topicPrefix,
    SLUICE_DLQ_TOPIC: `${topicPrefix}dlq`,
    SLUICE_CONSUMER_GROUP: `ops-${id}`,
    SLUICE_TOPIC_REFRESH_MS: '500',
    SLUICE_ADMIN_KEY: adminKey,
    SLUICE_METRICS_KEY: metricsKey,
    SLUICE_LOG_LEVEL: 'warn',
  };
  const serve = start('control plane', ['control-plane/bin/sluice-control-plane.js', 'serve'], cpEnv);
  await waitForHttpOk(`${cpUrl}/healthz`, { child: serve, output: () => processes.output('control plane'), what: 'the control plane', authorization: `Bearer ${metricsKey}`, timeoutMs: 90_000, intervalMs: 300 });
  const created = await fetch(`${cpUrl}/api/v1/datasets`, {
    method: 'POST',
    headers: { ...bearer(adminKey), 'content-type': 'application/json' },
    body: JSON.stringify({ name: dataset, sinks: { postgres: { enabled: true } }, schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }),
  });
  expect(created.status, await created.clone().text()).toBe(201);

  // Port 0: the OS picks it and the consumer logs where it listens (info), as an operator running several would read it.
  start('consumer', ['control-plane/bin/sluice-control-plane.js', 'consume'], { ...cpEnv, SLUICE_CONSUMER_METRICS_PORT: '0', SLUICE_LOG_LEVEL: 'info' });
  consumerUrl = await until('the consumer metrics address in its log', () =>
    Promise.resolve(/"address":"(http:\/\/127\.0\.0\.1:\d+)".*consumer metrics listening/.exec(processes.output('consumer'))?.[1]),
  );

  await writeFile(
    join(dir, 'agent.yaml'),
    [
      `agentId: ${agentId}`,
      `dataDir: ${join(dir, 'data')}`,
      'kafka:',
      `  brokers: [${JSON.stringify(stack.kafkaBrokers[0])}]`,
      `  topicPrefix: ${JSON.stringify(topicPrefix)}`,
      'http:',
      `  listen: 127.0.0.1:${agentPort}`,
      '  token: ${env:SLUICE_AGENT_TOKEN}',
      'sources:',
      `  - { type: http-push, id: push, dataset: ${dataset}, token: "${pushToken}" }`,
      '',
    ].join('\n'),
  );
  const agent = start('agent', ['agent/bin/sluice-agent.js', 'run', '--config', join(dir, 'agent.yaml')], { SLUICE_LOG_LEVEL: 'warn', SLUICE_AGENT_TOKEN: agentToken });
  await waitForHttpOk(`${agentUrl}/healthz`, { child: agent, output: () => processes.output('agent'), what: 'the agent', authorization: `Bearer ${agentToken}`, timeoutMs: 90_000, intervalMs: 300 });

  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  await writeFile(join(dir, 'viewer.key'), metricsKey, { mode: 0o600 });
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: sluice-consumer',
      `    authorization: { type: Bearer, credentials_file: ${join(dir, 'viewer.key')} }`,
      `    static_configs: [{ targets: ['${new URL(consumerUrl).host}'], labels: { component: consumer } }]`,
      '',
    ].join('\n'),
  );
  const prometheus = start('prometheus', [PROMETHEUS, `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${promPort}`], {});
  await waitForHttpOk(`${promUrl}/-/ready`, { child: prometheus, output: () => processes.output('prometheus'), what: 'prometheus', timeoutMs: 60_000, intervalMs: 300 });
}, 240_000);

// Topics (by prefix) and schemas are removed after the file by the integration setup (test-resources.ts).
afterAll(async () => {
  await processes.stopAll();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

describe('operations: metrics of every process, scraped', () => {
  it('Prometheus scrapes the consumer and answers ingested_rows_total per dataset, sink and agent', async () => {
    const records = Array.from({ length: 25 }, (_, n) => ({ n }));
    const pushed = await fetch(`${agentUrl}/v1/ingest/${dataset}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pushToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(records),
    });
    expect(pushed.status, await pushed.clone().text()).toBe(200);

    const query = `ingested_rows_total{dataset="${dataset}"}`;
    const series = await until(`${query} = 25 in Prometheus`, async () => {
      const res = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data: { result: PromSeries[] } };
      return res.data.result.length > 0 && res.data.result.every((s) => s.value[1] === '25') ? res.data.result : undefined;
    });
    expect(series.map((s) => s.metric)).toEqual([
      expect.objectContaining({ __name__: 'ingested_rows_total', dataset, sink: 'postgres', agent: agentId, job: 'sluice-consumer', component: 'consumer' }),
    ]);
    // The consumer's listener wants a key like the API: Prometheus's scrape works only because it sends one.
    expect((await fetch(`${consumerUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${consumerUrl}/healthz`, { headers: bearer(metricsKey) })).status).toBe(200);
  });

  it('every /metrics (API, consumer, agent) passes promtool check metrics', async () => {
    const endpoints: Array<[string, string]> = [
      [`${cpUrl}/metrics`, metricsKey],
      [`${consumerUrl}/metrics`, metricsKey],
      [`${agentUrl}/metrics`, agentToken],
    ];
    for (const [url, key] of endpoints) {
      const res = await fetch(url, { headers: bearer(key) });
      expect(res.status, url).toBe(200);
      const text = await res.text();
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile('promtool', ['check', 'metrics'], (error, _stdout, err) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr: err }));
        child.stdin?.end(text);
      });
      expect({ url, code, stderr }).toEqual({ url, code: 0, stderr: '' });
    }
  });
});
