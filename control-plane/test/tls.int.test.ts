/**
 * TLS end to end with real processes: `sluice-control-plane serve` listens with https from
 * SLUICE_TLS_CERT_FILE / SLUICE_TLS_KEY_FILE (a certificate signed by a CA made here with openssl), and a real
 * `sluice-agent` told to trust that CA (`enroll --ca`) enrolls and checks in over it. A client that does not
 * trust the CA, or trusts another one, gets a certificate error and never reaches the API; a half-configured
 * or mismatched certificate stops `serve` at start with the variable's name.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ProcessGroup, stopProcess } from '@sluice/shared/node/testing/processes';
import { ownSchemas, testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { loadConfig } from '../src/config.ts';
import { loadTlsFiles } from '../src/http/tls-files.ts';
import { makeTestCertificates, type TestCertificates } from '@sluice/shared/node/testing/test-ca';
import { stackEnv } from './support/state.ts';

const ROOT = path.join(import.meta.dirname, '../..');
const CONTROL_PLANE = path.join(ROOT, 'control-plane/bin/sluice-control-plane.js');
const AGENT = path.join(ROOT, 'agent/bin/sluice-agent.js');
const id = randomBytes(4).toString('hex');
const adminKey = `slk_${randomBytes(24).toString('base64url')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-tls-'));
const processes = new ProcessGroup();
let certs: TestCertificates;
let baseUrl = '';

interface HttpsAnswer {
  status: number;
  body: string;
  peer: PeerCertificate;
}

/** One https request with node:https, so the test controls exactly which CAs are trusted. */
function httpsRequest(url: string, options: RequestOptions & { body?: unknown } = {}): Promise<HttpsAnswer> {
  const { body, ...rest } = options;
  return new Promise((resolve, reject) => {
    const req = request(url, { ...rest, headers: { ...rest.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, peer }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const trusted = (): RequestOptions => ({ ca: readFileSync(certs.caFile), headers: { authorization: `Bearer ${adminKey}` } });

function cli(bin: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A fleet-managed agent's local YAML: no agentId, no sources (both come from the control plane). */
async function agentConfig(name: string): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `dataDir: ./data-${name}\nkafka:\n  brokers: ${JSON.stringify(stackEnv.kafkaBrokers)}\n  topicPrefix: "${testTopicPrefix(`tls${id}`)}"\n` +
      `http:\n  listen: 127.0.0.1:${String(await freePort())}\nsources: []\n`,
  );
  return file;
}

async function enrollmentToken(): Promise<string> {
  const res = await httpsRequest(`${baseUrl}/api/v1/enrollment-tokens`, { ...trusted(), method: 'POST', body: { name: 'tls test', maxUses: 10 } });
  expect(res.status, res.body).toBe(201);
  return (JSON.parse(res.body) as { token: string }).token;
}

beforeAll(async () => {
  certs = await makeTestCertificates(dir);
  const stateSchema = `cp_tls_${id}`;
  ownSchemas(stateSchema, `cp_tls_data_${id}`);
  const port = await freePort();
  baseUrl = `https://127.0.0.1:${String(port)}`;
  const serve = processes.start('serve', [CONTROL_PLANE, 'serve'], {
    cwd: ROOT,
    env: {
      SLUICE_HTTP_PORT: String(port),
      SLUICE_STATE_SCHEMA: stateSchema,
      SLUICE_DATA_SCHEMA: `cp_tls_data_${id}`,
      SLUICE_TOPIC_PREFIX: testTopicPrefix(`tlscp${id}`),
      SLUICE_ADMIN_KEY: adminKey,
      SLUICE_TLS_CERT_FILE: certs.certFile,
      SLUICE_TLS_KEY_FILE: certs.keyFile,
      SLUICE_LOG_LEVEL: 'info',
    },
  });
  await waitFor(
    async () => serve.exitCode !== null || (await httpsRequest(`${baseUrl}/healthz`, trusted())).status === 200,
    { timeoutMs: 60_000, intervalMs: 300, what: 'the https control plane', detail: () => processes.output('serve') },
  );
  expect(serve.exitCode, processes.output('serve')).toBeNull();
}, 90_000);

afterAll(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('serve over https', () => {
  it('answers with the certificate the CA signed, for the IP and the host name it names', async () => {
    const res = await httpsRequest(`${baseUrl}/healthz`, trusted());
    expect(res.status).toBe(200);
    expect(res.peer.subjectaltname).toBe('IP Address:127.0.0.1, DNS:localhost');
    expect(res.peer.issuer.CN).toBe('sluice-test-ca');
    // The log says where it listens, with the scheme a client must use.
    expect(processes.output('serve')).toContain(`"Server listening at ${baseUrl}"`);
    const byName = await httpsRequest(`${baseUrl}/healthz`, { ...trusted(), servername: 'localhost' });
    expect(byName.status).toBe(200);
  });

  it('refuses a client that does not trust the CA, trusts another CA, or expects another name', async () => {
    await expect(httpsRequest(`${baseUrl}/healthz`)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(httpsRequest(`${baseUrl}/healthz`, { ca: readFileSync(certs.otherCaFile) })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    // Node's fetch (what most scripts use) says the same.
    await expect(fetch(`${baseUrl}/healthz`)).rejects.toMatchObject({ cause: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } });
    await expect(httpsRequest(`${baseUrl}/healthz`, { ...trusted(), servername: 'cp.example.com' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('speaks no plain http on the https port', async () => {
    const plain = await fetch(`${baseUrl.replace('https:', 'http:')}/healthz`, { headers: { authorization: `Bearer ${adminKey}` } }).then(
      (r) => r.status,
      (error: unknown) => error,
    );
    expect(plain).not.toBe(200);
  });
});

describe('an agent that trusts the CA', () => {
  let agent: ChildProcess | undefined;

  afterAll(() => stopProcess(agent));

  it('enrolls with --ca, keeps the CA in its identity, and checks in over https', async () => {
    const config = await agentConfig('trusting');
    const token = await enrollmentToken();
    const enrolled = await cli(AGENT, ['enroll', '--config', config, '--url', baseUrl, '--token', token, '--ca', certs.caFile, '--name', `tls-${id}`]);
    expect(enrolled, enrolled.stderr).toMatchObject({ code: 0 });
    const identity = JSON.parse(readFileSync(path.join(dir, 'data-trusting/fleet/identity.json'), 'utf8')) as { agentId: string; url: string; caFile: string };
    expect(identity).toMatchObject({ url: baseUrl, caFile: certs.caFile });
    expect(identity.agentId).toMatch(new RegExp(`^tls-${id}-[0-9a-f]{6}$`));
    expect(enrolled.stdout + enrolled.stderr).not.toContain(token);

    agent = processes.start('agent', [AGENT, 'run', '--config', config], { cwd: ROOT, env: { SLUICE_LOG_LEVEL: 'warn' } });
    const seen = await waitFor(
      async () => {
        const res = await httpsRequest(`${baseUrl}/api/v1/agents/${identity.agentId}`, trusted());
        const detail = JSON.parse(res.body) as { lastSeenAt: string | null; connectivity: string; version: string };
        return detail.lastSeenAt === null ? undefined : detail;
      },
      { timeoutMs: 30_000, intervalMs: 300, what: `a check-in of ${identity.agentId}`, detail: () => processes.describe(2000) },
    );
    expect(seen.connectivity).toBe('online');
  }, 60_000);

  it('without --ca, or with the wrong CA, enroll fails with a certificate error and writes no identity', async () => {
    // The handshake fails before any request is sent, so the token is never looked at.
    const token = `sle_${randomBytes(16).toString('hex')}`;
    for (const [name, extra] of [
      ['untrusting', []],
      ['wrong-ca', ['--ca', certs.otherCaFile]],
    ] as const) {
      const config = await agentConfig(name);
      const result = await cli(AGENT, ['enroll', '--config', config, '--url', baseUrl, '--token', token, ...extra]);
      expect(result.code, name).not.toBe(0);
      expect(result.stderr, name).toMatch(/certificate/i);
      expect(result.stderr, name).toContain(baseUrl);
      expect(existsSync(path.join(dir, `data-${name}/fleet/identity.json`)), name).toBe(false);
    }
  }, 60_000);
});

describe('TLS settings', () => {
  const base = { SLUICE_PG_URL: stackEnv.pgUrl, SLUICE_S3_ACCESS_KEY: 'k', SLUICE_S3_SECRET_KEY: 's' };

  it('takes both files or neither, naming the one that is missing', () => {
    expect(loadConfig(base).tls).toBeUndefined();
    expect(loadConfig({ ...base, SLUICE_TLS_CERT_FILE: 'c.pem', SLUICE_TLS_KEY_FILE: 'k.pem' }).tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem' });
    expect(() => loadConfig({ ...base, SLUICE_TLS_CERT_FILE: 'c.pem' })).toThrow(/^SLUICE_TLS_KEY_FILE must be set when SLUICE_TLS_CERT_FILE is/);
    expect(() => loadConfig({ ...base, SLUICE_TLS_KEY_FILE: 'k.pem' })).toThrow(/^SLUICE_TLS_CERT_FILE must be set when SLUICE_TLS_KEY_FILE is/);
  });

  it('refuses unreadable files, files that are not PEM, and a key that does not fit the certificate', () => {
    expect(() => loadTlsFiles({ certFile: path.join(dir, 'missing.pem'), keyFile: certs.keyFile })).toThrow(/^SLUICE_TLS_CERT_FILE: cannot read .*missing\.pem/);
    expect(() => loadTlsFiles({ certFile: certs.certFile, keyFile: certs.caFile })).toThrow(/^SLUICE_TLS_KEY_FILE: .* holds no PEM private key$/);
    expect(() => loadTlsFiles({ certFile: certs.keyFile, keyFile: certs.keyFile })).toThrow(/^SLUICE_TLS_CERT_FILE: .* holds no PEM certificate$/);
    const mismatch = (() => {
      try {
        loadTlsFiles({ certFile: certs.certFile, keyFile: certs.otherKeyFile });
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(mismatch).toMatch(/^SLUICE_TLS_CERT_FILE \/ SLUICE_TLS_KEY_FILE: the key does not fit the certificate/);
    expect(mismatch).not.toContain(readFileSync(certs.otherKeyFile, 'utf8').split('\n')[1]);
  });

  it('stops serve at start, before it listens, when the key does not fit', async () => {
    const result = await cli(CONTROL_PLANE, ['serve'], {
      SLUICE_STATE_SCHEMA: `cp_tls_bad_${id}`,
      SLUICE_HTTP_PORT: String(await freePort()),
      SLUICE_TLS_CERT_FILE: certs.certFile,
      SLUICE_TLS_KEY_FILE: certs.otherKeyFile,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('the key does not fit the certificate');
  });
});
