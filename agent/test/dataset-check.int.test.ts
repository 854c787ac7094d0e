/**
 * Datasets the control plane does not know, against the real `sluice-control-plane serve` on the local
 * PostgreSQL: `sluice-agent validate` names them as `path: reason` lines and exits 1, only warns when the
 * control plane cannot be asked, and the running agent shows them in /status until they are registered.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, stopProcess, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { ownSchemas, testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { brokers } from './support/agent-process.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const AGENT = path.join(import.meta.dirname, '../bin/sluice-agent.js');
const CONTROL_PLANE = path.join(import.meta.dirname, '../../control-plane/bin/sluice-control-plane.js');
const id = randomBytes(4).toString('hex');
const known = `known_${id}`;
const ghost = `ghost_${id}`;
const adminKey = `slk_${randomBytes(24).toString('base64url')}`;
const metricsKey = `slk_${randomBytes(24).toString('base64url')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-dataset-check-'));
const children: ChildProcess[] = [];
let cpUrl = '';
let output = '';

function writeConfig(name: string, controlPlane: string, datasets: string[], extra = ''): string {
  const file = path.join(dir, `${name}.yaml`);
  const sources = datasets.map((d, i) => [`  - type: http-poll`, `    id: poll-${i}`, `    dataset: ${d}`, `    url: http://127.0.0.1:9/none`, `    intervalMs: 600000`].join('\n'));
  writeFileSync(
    file,
    [`agentId: check-${id}`, `dataDir: ./data-${name}`, 'kafka:', `  brokers: ${JSON.stringify(brokers)}`, `  topicPrefix: "${testTopicPrefix(`dscheck${id}`)}"`, extra, 'controlPlane:', controlPlane, 'sources:', ...sources, ''].join('\n'),
  );
  return file;
}

const cpSection = (url: string, extra = '') => `  url: ${url}\n  apiKey: \${env:CP_KEY}${extra}`;

function validate(file: string, key = metricsKey): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [AGENT, 'validate', '--config', file], { env: { ...process.env, CP_KEY: key } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function register(name: string): Promise<void> {
  const res = await fetch(`${cpUrl}/api/v1/datasets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, sinks: {}, schema: { type: 'object' } }),
  });
  expect(res.status, await res.text()).toBe(201);
}

beforeAll(async () => {
  const stateSchema = `agent_check_${id}`;
  ownSchemas(stateSchema, `agent_check_data_${id}`);
  const port = await freePort();
  cpUrl = `http://127.0.0.1:${port}`;
  const serve = spawn(process.execPath, [CONTROL_PLANE, 'serve'], {
    env: {
      ...process.env,
      SLUICE_HTTP_PORT: String(port),
      SLUICE_STATE_SCHEMA: stateSchema,
      SLUICE_DATA_SCHEMA: `agent_check_data_${id}`,
      SLUICE_TOPIC_PREFIX: testTopicPrefix(`dscheckcp${id}`),
      SLUICE_ADMIN_KEY: adminKey,
      SLUICE_METRICS_KEY: metricsKey,
      SLUICE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(serve);
  serve.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  serve.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  await waitForHttpOk(`${cpUrl}/healthz`, { child: serve, output: () => output, what: 'the control plane', authorization: `Bearer ${metricsKey}`, timeoutMs: 60_000, intervalMs: 300 });
  await register(known);
});

afterAll(async () => {
  for (const child of children) await stopProcess(child);
  rmSync(dir, { recursive: true, force: true });
});

describe('sluice-agent validate with a control plane', () => {
  it('names each source whose dataset is not registered, and exits 1', async () => {
    const file = writeConfig('unknown', cpSection(cpUrl), [known, ghost, ghost]);
    const result = await validate(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: unknown datasets`);
    expect(result.stderr.split('\n').filter((l) => l.startsWith('sources['))).toEqual([
      `sources[1].dataset: dataset "${ghost}" is not registered in the control plane; its records would all go to the DLQ`,
      `sources[2].dataset: dataset "${ghost}" is not registered in the control plane; its records would all go to the DLQ`,
    ]);
    expect(result.stderr).not.toContain(metricsKey);
  });

  it('passes when every dataset is registered', async () => {
    const result = await validate(writeConfig('known', cpSection(cpUrl), [known]));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/ok \(1 sources, datasets registered\)/);
  });

  it('only warns when the control plane is unreachable or refuses the key', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await validate(writeConfig('down', cpSection(closed), [ghost]));
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(new RegExp(`^warning: control plane ${closed} is unreachable \\(ECONNREFUSED\\): datasets were not checked$`, 'm'));
    expect(down.stdout).toMatch(/datasets not checked/);
    const refused = await validate(writeConfig('refused', cpSection(cpUrl), [ghost]), 'slk_not-a-key-0123456789');
    expect(refused.code).toBe(0);
    expect(refused.stderr).toContain('refused controlPlane.apiKey (HTTP 401)');
  });
});

describe('the running agent', () => {
  it('shows unregistered datasets in /status, checked at start and again periodically', async () => {
    const agentPort = await freePort();
    const file = writeConfig('running', cpSection(cpUrl, '\n  datasetCheckIntervalMs: 1000'), [known, ghost], `http:\n  listen: 127.0.0.1:${agentPort}`);
    const agent = spawn(process.execPath, [AGENT, 'run', '--config', file], { env: { ...process.env, CP_KEY: metricsKey, SLUICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(agent);
    let agentOutput = '';
    agent.stdout?.on('data', (c: Buffer) => (agentOutput += c.toString()));
    agent.stderr?.on('data', (c: Buffer) => (agentOutput += c.toString()));
    const status = async () => (await (await fetch(`http://127.0.0.1:${agentPort}/status`)).json()) as {
      datasets?: { unknown: Array<{ path: string; dataset: string }>; warnings: string[]; checkedAt: string };
      sources: Array<{ id: string; warnings?: string[] }>;
    };
    const first = await waitFor(async () => (await status()).datasets, 30_000, 'the first dataset check');
    expect(first.unknown).toEqual([expect.objectContaining({ path: 'sources[1].dataset', dataset: ghost })]);
    expect(first.warnings).toEqual([]);
    const sources = (await status()).sources;
    expect(sources.find((s) => s.id === 'poll-1')?.warnings).toEqual([expect.stringContaining(`dataset "${ghost}" is not registered`)]);
    expect(sources.find((s) => s.id === 'poll-0')?.warnings).toBeUndefined();
    expect(agentOutput).toContain('datasets not registered in the control plane');

    await register(ghost);
    await waitFor(async () => (await status()).datasets?.unknown.length === 0, 15_000, 'the periodic check to see the new dataset');
    expect((await status()).sources.every((s) => s.warnings === undefined)).toBe(true);
    expect(agentOutput).not.toContain(metricsKey);
    await stopProcess(agent);
  });
});
