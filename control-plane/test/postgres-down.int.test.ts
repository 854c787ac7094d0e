/**
 * A real control plane (API and a consumer's metrics listener) whose PostgreSQL goes away: it reaches the
 * shared PostgreSQL through a TCP proxy of this test's own, and the proxy's port is closed, so connecting
 * is refused exactly as with PostgreSQL down. Liveness keeps answering, readiness and data routes answer
 * 503 with Retry-After, a recently verified key keeps working for a bounded time. The shared service is
 * never touched.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { createPool } from '../src/db/pool.ts';
import { testServer } from './support/test-server.ts';
import { startMetricsServer, type MetricsServer } from '../src/metrics/metrics-server.ts';
import { ControlPlaneMetrics } from '../src/metrics/metrics.ts';
import { createOperatorServices } from '../src/operators/operator-services.ts';
import { hashPassword } from '../src/operators/passwords.ts';
import { withTransaction } from '../src/db/transaction.ts';
import { freshState, stackEnv } from './support/state.ts';

/** Forwards to PostgreSQL while open; `close()` closes the port itself (connections refused), `open()` reopens it. */
class PortProxy {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  async open(): Promise<void> {
    const target = new URL(stackEnv.pgUrl);
    this.#server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server = undefined;
  }
}

const logger = createLogger('pg-down-test', { level: 'silent' });
const proxy = new PortProxy();
let state: Awaited<ReturnType<typeof freshState>>;
let proxied: pg.Pool;
let api: FastifyInstance;
let apiUrl = '';
let consumerMetrics: MetricsServer;
let now = Date.now();
let viewerKey = '';
let operatorKey = '';
let accessToken = '';

beforeAll(async () => {
  state = await freshState();
  const direct = new ApiKeyStore(state.pool);
  viewerKey = (await direct.create('viewer', 'probe')).key;
  operatorKey = (await direct.create('operator', 'never used before the outage')).key;
  await proxy.open();
  const url = new URL(stackEnv.pgUrl);
  url.port = String(proxy.port);
  proxied = createPool(url.toString(), state.schema);
  const clock = { now: () => now };
  const metrics = new ControlPlaneMetrics({ defaultMetrics: true });
  api = (await testServer(proxied, {
    datasets: new DatasetStore(proxied),
    apiKeys: new ApiKeyStore(proxied, clock),
    metrics,
    logger,
    produce: () => Promise.resolve(),
    produceOne: (m) => Promise.resolve({ topic: m.topic, partition: 0, offset: 0n }),
    topicPrefix: 'sluicetest-pgdown.',
    maxRecordBytes: 4096,
    bodyLimitBytes: 64 * 1024,
    operators: createOperatorServices(proxied, {}, clock),
  })).app;
  await api.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  consumerMetrics = await startMetricsServer({ host: '127.0.0.1', port: 0, apiKeys: new ApiKeyStore(proxied, clock), metrics: new ControlPlaneMetrics({ defaultMetrics: true }), logger });
});

afterAll(async () => {
  await api?.close();
  await consumerMetrics?.close();
  await proxied?.end().catch(() => undefined);
  await proxy.close();
  await state?.drop();
});

async function createViewerUser(client: pg.ClientBase): Promise<void> {
  await client.query("INSERT INTO users (username, role, password_hash) VALUES ('pgdown', 'viewer', $1)", [await hashPassword('pg down test password')]);
}

async function get(base: string, path: string, key?: string): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const res = await fetch(`${base}${path}`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

describe('control plane with PostgreSQL down', () => {
  it('keeps liveness, answers 503 + Retry-After elsewhere, serves recently verified keys for a bounded time', async () => {
    // Up: the probe key is verified once on each surface (that is what puts it in the short cache).
    expect((await get(apiUrl, '/readyz', viewerKey)).status).toBe(200);
    expect((await get(apiUrl, '/api/v1/datasets', viewerKey)).status).toBe(200);
    expect((await get(consumerMetrics.url, '/metrics', viewerKey)).status).toBe(200);
    // A user's access token is verified with signing keys held in memory, so it outlives the outage too.
    await withTransaction(state.pool, (client) => createViewerUser(client));
    const login = await fetch(`${apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'pgdown', password: 'pg down test password', client: 'token' }) });
    accessToken = ((await login.json()) as { accessToken: string }).accessToken;
    expect((await get(apiUrl, '/metrics', accessToken)).status).toBe(200);

    await proxy.close();

    for (const base of [apiUrl, consumerMetrics.url]) {
      expect((await get(base, '/healthz', viewerKey)).status, base).toBe(200);
      // Liveness answers even for a key it cannot look up now, but never without one.
      expect((await get(base, '/healthz', operatorKey)).status, base).toBe(200);
      expect((await get(base, '/healthz')).status, base).toBe(401);
      const metrics = await get(base, '/metrics', viewerKey);
      expect(metrics.status, base).toBe(200);
      expect(metrics.body).toContain('# TYPE ingested_rows_total counter');
    }
    const ready = await get(apiUrl, '/readyz', viewerKey);
    expect([ready.status, ready.retryAfter]).toEqual([503, '5']);
    expect(ready.body).toContain('PostgreSQL');
    expect(ready.body).toContain('UnavailableError');

    // A data route with a cached key: the route's own query fails, classified as unavailable.
    const list = await get(apiUrl, '/api/v1/datasets', viewerKey);
    expect([list.status, list.retryAfter]).toEqual([503, '5']);
    expect(JSON.parse(list.body)).toMatchObject({ error: { name: 'UnavailableError' } });
    // A key not verified before the outage cannot be told from a revoked one: 503, not 401 and not 500.
    const unverified = await get(apiUrl, '/api/v1/datasets', operatorKey);
    expect([unverified.status, unverified.retryAfter]).toEqual([503, '5']);
    expect(unverified.body).not.toContain('BugError');

    // Past the stale bound (60 s after the last successful lookup) the cached key is no longer served.
    now += 61_000;
    const stale = await get(apiUrl, '/metrics', viewerKey);
    expect([stale.status, stale.retryAfter]).toEqual([503, '5']);
    expect((await get(consumerMetrics.url, '/metrics', viewerKey)).status).toBe(503);
    expect((await get(apiUrl, '/healthz', viewerKey)).status).toBe(200);
    // The signing keys could not be reloaded (30 s old), but the ones in hand still verify: no 503 for users.
    expect((await get(apiUrl, '/metrics', accessToken)).status).toBe(200);

    // Back: everything answers again without a restart.
    await proxy.open();
    const deadline = Date.now() + 20_000;
    let back = await get(apiUrl, '/api/v1/datasets', operatorKey);
    while (back.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      back = await get(apiUrl, '/api/v1/datasets', operatorKey);
    }
    expect(back.status).toBe(200);
    expect((await get(apiUrl, '/readyz', viewerKey)).status).toBe(200);
  });
});
