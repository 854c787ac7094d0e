/**
 * The real `sluice-agent run` process (real Kafka): its HTTP token guards /metrics, /healthz and /status also
 * when it listens on all interfaces, the http-push endpoint keeps its own token, and a config that would expose
 * those endpoints without a token is refused at start with the path to fix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { freePort, stopProcess, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';

const BIN = path.join(import.meta.dirname, '../../bin/sluice-agent.js');
const brokers = loadStackEnv().kafkaBrokers;
const id = randomBytes(4).toString('hex');
const AGENT_TOKEN = `agent-${randomBytes(16).toString('hex')}`;
const PUSH_TOKEN = `push-${randomBytes(16).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-agent-access-'));

function writeConfig(name: string, http: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `agentId: access-${id}`,
      `dataDir: ./data-${name}`,
      'kafka:',
      `  brokers: ${JSON.stringify(brokers)}`,
      `  topicPrefix: "${testTopicPrefix(`acl${id}`)}"`,
      http,
      'sources:',
      '  - type: http-push',
      '    id: push',
      '    dataset: pushed',
      '    token: ${env:PUSH_TOKEN}',
      '',
    ].join('\n'),
  );
  return file;
}

let agent: ChildProcess;
let output = '';
let url = '';

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const config = writeConfig('exposed', `http:\n  listen: 0.0.0.0:${port}\n  token: \${env:AGENT_TOKEN}`);
  agent = spawn(process.execPath, [BIN, 'run', '--config', config], {
    env: { ...process.env, AGENT_TOKEN, PUSH_TOKEN, SLUICE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  agent.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitForHttpOk(`${url}/healthz`, { child: agent, output: () => output, what: 'the agent', authorization: `Bearer ${AGENT_TOKEN}`, timeoutMs: 30_000, intervalMs: 200 });
});

afterAll(async () => {
  await stopProcess(agent);
  rmSync(dir, { recursive: true, force: true });
});

describe('agent launcher', () => {
  it('re-executes itself in place with the bounded-heap V8 flags (same pid, so signals reach the agent)', () => {
    const cmdline = readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('--max-semi-space-size=16');
    expect(cmdline).toContain('--max-old-space-size=128');
    expect(cmdline).toContain('run');
  });
});

describe('agent HTTP access (real agent process listening on 0.0.0.0)', () => {
  it.each(['/metrics', '/healthz', '/status'])('%s: 401 without the token or with a wrong one, 200 with it', async (endpoint) => {
    for (const authorization of [undefined, `Bearer ${PUSH_TOKEN}`, `Bearer ${AGENT_TOKEN.slice(0, -1)}`, `Basic ${AGENT_TOKEN}`]) {
      const res = await fetch(`${url}${endpoint}`, { headers: authorization === undefined ? {} : { authorization } });
      expect(res.status, `${endpoint} with ${String(authorization)}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    const res = await fetch(`${url}${endpoint}`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(AGENT_TOKEN);
    expect(text).not.toContain(PUSH_TOKEN);
  });

  it('keeps the http-push endpoint on its own token: 401 without, 403 with the agent token, 200 with the push token', async () => {
    const push = (authorization?: string): Promise<Response> =>
      fetch(`${url}/v1/ingest/pushed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify([{ n: 1 }]),
      });
    expect((await push()).status).toBe(401);
    expect((await push(`Bearer ${AGENT_TOKEN}`)).status).toBe(403);
    const ok = await push(`Bearer ${PUSH_TOKEN}`);
    expect(ok.status, await ok.clone().text()).toBe(200);
  });

  it('never logs either token', () => {
    expect(output).not.toContain(AGENT_TOKEN);
    expect(output).not.toContain(PUSH_TOKEN);
  });

  it('refuses to start without a token on a non-loopback address, naming http.token', async () => {
    const config = writeConfig('open', `http:\n  listen: 0.0.0.0:${await freePort()}`);
    const child = spawn(process.execPath, [BIN, 'run', '--config', config], { env: { ...process.env, PUSH_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`${config}: invalid config`);
    expect(stderr).toMatch(/^http\.token: is required because http\.listen \(0\.0\.0\.0:\d+\) is not a loopback address/m);
  });
});
