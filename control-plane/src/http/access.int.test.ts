/**
 * Access control of every control plane endpoint, against the real `sluice-control-plane serve` process on
 * the local stack's PostgreSQL and Kafka, with keys made by the real `create-api-key` command: no key → 401,
 * a wrong key → 401, a key below the route's role → 403, the right key → the route's answer. An in-process
 * server (same routes) checks that the table below covers every route and that a route without a role is
 * refused. The serve process's own log is checked for keys at the end.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { freePort, stopProcess, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { freshState, suffix } from '../../test/support/state.ts';
import { ApiKeyStore, type Role } from '../auth/api-keys.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { ValidatorCache } from '../datasets/validators.ts';
import { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { buildServer } from './server.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice-control-plane.js', import.meta.url));
const run = promisify(execFile);
const id = suffix();
const dataset = `acl_${id}`;
const topicPrefix = testTopicPrefix(`acl${id}`);
const BODY_LIMIT = 256 * 1024;

interface Endpoint {
  method: 'GET' | 'HEAD' | 'POST';
  /** The route as registered (fastify syntax); the coverage test matches on it. */
  route: string;
  /** A concrete URL of the route. */
  path: string;
  role: Role;
  ok: number;
  body?: unknown;
}

/** Filled in beforeAll (the DLQ entry's id comes from PostgreSQL). */
let dlqId = '';
const schema = { type: 'object', required: ['device'], properties: { device: { type: 'string' } } };
/** In order: the dataset is created before it is read, versioned and ingested into. */
const ENDPOINTS = (): Endpoint[] => [
  { method: 'GET', route: '/healthz', path: '/healthz', role: 'viewer', ok: 200 },
  { method: 'HEAD', route: '/healthz', path: '/healthz', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/readyz', path: '/readyz', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/metrics', path: '/metrics', role: 'viewer', ok: 200 },
  { method: 'HEAD', route: '/metrics', path: '/metrics', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs', path: '/docs', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/', path: '/docs/', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/json', path: '/docs/json', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/yaml', path: '/docs/yaml', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/static/index.html', path: '/docs/static/index.html', role: 'viewer', ok: 302 },
  { method: 'GET', route: '/docs/static/swagger-initializer.js', path: '/docs/static/swagger-initializer.js', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/*', path: '/docs/static/swagger-ui.css', role: 'viewer', ok: 200 },
  {
    method: 'POST',
    route: '/api/v1/datasets',
    path: '/api/v1/datasets',
    role: 'operator',
    ok: 201,
    body: { name: dataset, sinks: { postgres: { enabled: true } }, schema },
  },
  { method: 'GET', route: '/api/v1/datasets', path: '/api/v1/datasets', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/datasets/:name', path: `/api/v1/datasets/${dataset}`, role: 'viewer', ok: 200 },
  {
    method: 'POST',
    route: '/api/v1/datasets/:name/versions',
    path: `/api/v1/datasets/${dataset}/versions`,
    role: 'operator',
    ok: 201,
    body: { schema: { ...schema, properties: { ...schema.properties, note: { type: 'string' } } } },
  },
  { method: 'POST', route: '/api/v1/ingest/:dataset', path: `/api/v1/ingest/${dataset}`, role: 'operator', ok: 200, body: [{ device: 'a' }] },
  { method: 'GET', route: '/api/v1/dlq', path: '/api/v1/dlq', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/dlq/counts', path: '/api/v1/dlq/counts', role: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/dlq/:id', path: `/api/v1/dlq/${dlqId}`, role: 'viewer', ok: 200 },
  { method: 'POST', route: '/api/v1/dlq/:id/replay', path: `/api/v1/dlq/${dlqId}/replay`, role: 'operator', ok: 200 },
  { method: 'GET', route: '/api/v1/health', path: '/api/v1/health', role: 'viewer', ok: 200 },
];

const keys = {
  admin: `slk_${randomBytes(24).toString('base64url')}`,
  metrics: `slk_${randomBytes(24).toString('base64url')}`,
  viewer: '',
  operator: '',
};
const WRONG_KEYS = [`Bearer slk_${randomBytes(24).toString('base64url')}`, `Bearer ${'x'.repeat(16)}`, 'Basic dXNlcjpwYXNzd29yZA==', 'Bearer', ''];

let state: Awaited<ReturnType<typeof freshState>>;
let serve: ChildProcess;
let baseUrl = '';
let output = '';
let env: NodeJS.ProcessEnv = {};

async function createKey(role: Role): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'create-api-key', '--role', role, '--name', `access test ${role}`], {
    env: { ...env, SLUICE_LOG_LEVEL: 'warn' },
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const created = JSON.parse(line) as { key: string; role: string };
  expect(created.role).toBe(role);
  return created.key;
}

async function call(endpoint: Endpoint, authorization: string | undefined, body: unknown = endpoint.body): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${endpoint.path}`, {
    method: endpoint.method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const bearer = (role: keyof typeof keys): string => `Bearer ${keys[role]}`;
const label = (e: Endpoint): string => `${e.method} ${e.route}`;

beforeAll(async () => {
  state = await freshState(`acl_data_${id}`);
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  env = {
    ...process.env,
    SLUICE_HTTP_PORT: String(port),
    SLUICE_STATE_SCHEMA: state.schema,
    SLUICE_DATA_SCHEMA: `acl_data_${id}`,
    SLUICE_TOPIC_PREFIX: topicPrefix,
    SLUICE_DLQ_TOPIC: `${topicPrefix}dlq`,
    SLUICE_HTTP_BODY_LIMIT: String(BODY_LIMIT),
    SLUICE_ADMIN_KEY: keys.admin,
    SLUICE_METRICS_KEY: keys.metrics,
    // info: every request is logged, which is what the no-keys-in-the-log check needs.
    SLUICE_LOG_LEVEL: 'info',
  };
  keys.viewer = await createKey('viewer');
  keys.operator = await createKey('operator');
  const inserted = await state.pool.query<{ id: string }>(
    `INSERT INTO dlq (dataset, record_id, topic, partition, "offset", reason, original, headers)
     VALUES ($1, 'r1', $2, 0, 1, 'test entry', $3, '{}') RETURNING id`,
    [dataset, `${topicPrefix}${dataset}`, Buffer.from('{"device":"z"}')],
  );
  dlqId = inserted.rows[0]!.id;

  serve = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  serve.stdout?.on('data', keep);
  serve.stderr?.on('data', keep);
  await waitForHttpOk(`${baseUrl}/healthz`, { child: serve, output: () => output, what: 'serve', authorization: bearer('metrics'), timeoutMs: 60_000, intervalMs: 300 });
});

afterAll(async () => {
  await stopProcess(serve);
  await state?.drop();
});

describe('control plane endpoints (real serve process)', () => {
  it('answers every endpoint 401 without a key and with a wrong or malformed one, before reading the body', async () => {
    for (const endpoint of ENDPOINTS()) {
      for (const authorization of [undefined, ...WRONG_KEYS]) {
        const res = await call(endpoint, authorization);
        expect(res.status, `${label(endpoint)} with ${JSON.stringify(authorization)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        if (endpoint.method !== 'HEAD') {
          const body = JSON.parse(res.text) as { error: Record<string, unknown> };
          expect(Object.keys(body)).toEqual(['error']);
          expect(Object.keys(body.error).sort()).toEqual(['message', 'name']);
          expect(body.error.name).toBe('UnauthorizedError');
        }
      }
    }
  });

  it('refuses a key below the route role with 403, and serves the right role (the metrics key is a viewer)', async () => {
    for (const endpoint of ENDPOINTS()) {
      if (endpoint.role === 'operator') {
        const below = await call(endpoint, bearer('viewer'));
        expect(below.status, `${label(endpoint)} as viewer`).toBe(403);
        expect((JSON.parse(below.text) as { error: { name: string } }).error.name).toBe('ForbiddenError');
        const metricsKey = await call(endpoint, bearer('metrics'));
        expect(metricsKey.status, `${label(endpoint)} with the metrics key`).toBe(403);
      }
      const right = await call(endpoint, bearer(endpoint.role));
      expect(right.status, `${label(endpoint)} as ${endpoint.role}: ${right.text.slice(0, 300)}`).toBe(endpoint.ok);
      if (endpoint.role === 'viewer' && endpoint.method === 'GET') {
        expect((await call(endpoint, bearer('metrics'))).status, `${label(endpoint)} with the metrics key`).toBe(endpoint.ok);
      }
    }
    const healthz = await call(ENDPOINTS()[0]!, bearer('viewer'));
    expect(JSON.parse(healthz.text)).toEqual({ status: 'ok' });
    const metrics = await call(ENDPOINTS().find((e) => e.route === '/metrics')!, bearer('metrics'));
    expect(metrics.text).toContain('sluice_dlq_size');
    expect((await call({ ...ENDPOINTS()[0]!, path: '/api/v1/datasets' }, bearer('admin'))).status).toBe(200);
  });

  it('answers an unknown path 401 without a key and 404 with one', async () => {
    const unknown: Endpoint = { method: 'GET', route: '', path: '/api/v1/nothing-here', role: 'viewer', ok: 404 };
    expect((await call(unknown, undefined)).status).toBe(401);
    expect((await call(unknown, bearer('viewer'))).status).toBe(404);
  });

  it('limits the request body of every route that takes one (413), and never reads it without a key (401)', async () => {
    const big = JSON.stringify({ schema: { description: 'x'.repeat(BODY_LIMIT + 1024) } });
    for (const endpoint of ENDPOINTS().filter((e) => e.method === 'POST')) {
      expect((await call(endpoint, bearer('admin'), big)).status, label(endpoint)).toBe(413);
      expect((await call(endpoint, undefined, big)).status, label(endpoint)).toBe(401);
    }
  });

  it('stores API keys only as their sha256', async () => {
    const rows = await state.pool.query<Record<string, unknown>>('SELECT * FROM api_keys');
    const dump = JSON.stringify(rows.rows);
    const sha256 = (key: string): string => createHash('sha256').update(key).digest('hex');
    for (const [name, key] of Object.entries(keys)) {
      expect(dump, name).not.toContain(key);
      expect(rows.rows.map((r) => r.key_hash), name).toContain(sha256(key));
    }
    expect(rows.rows.find((r) => r.id === 'bootstrap-metrics')).toMatchObject({ role: 'viewer' });
  });

  it('never writes a key to its log', () => {
    expect(output).toContain('incoming request');
    for (const key of [...Object.values(keys), ...WRONG_KEYS.filter((k) => k.length > 10)]) expect(output).not.toContain(key.replace(/^Bearer /, ''));
  });
});

describe('control plane routing policy (in-process server, same routes)', () => {
  let app: FastifyInstance;
  const logged: string[] = [];

  beforeAll(async () => {
    const logger = createLogger('access-test', {
      hooks: {
        streamWrite: (line: string) => {
          logged.push(line);
          return '';
        },
      },
    });
    logger.level = 'trace';
    app = await buildServer({
      pool: state.pool,
      datasets: new DatasetStore(state.pool),
      validators: new ValidatorCache(),
      apiKeys: new ApiKeyStore(state.pool),
      metrics: new ControlPlaneMetrics(),
      logger,
      produce: () => Promise.resolve(),
      produceOne: (m) => Promise.resolve({ topic: m.topic, partition: 0, offset: 0n }),
      kafka: { ping: () => Promise.resolve(), lag: () => Promise.resolve([]) },
      topicPrefix,
      maxRecordBytes: 4096,
      bodyLimitBytes: BODY_LIMIT,
    });
    // Added without a role, as a careless future route would be.
    app.get('/unguarded', () => ({ open: true }));
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('has every registered route in the endpoint table (HEAD goes with GET)', () => {
    const registered = routesOf(app.printRoutes({ commonPrefix: false })).filter((r) => r.route !== '/unguarded');
    const covered = new Set(ENDPOINTS().map((e) => `${e.method === 'HEAD' ? 'GET' : e.method} ${e.route}`));
    for (const r of registered) expect(covered, `${r.method} ${r.route} is not in the access test's table`).toContain(`${r.method === 'HEAD' ? 'GET' : r.method} ${r.route}`);
    expect(registered.length).toBeGreaterThan(15);
  });

  it('refuses a route without a role policy even to an admin key (fail closed), and 401 without a key', async () => {
    expect((await app.inject({ method: 'GET', url: '/unguarded' })).statusCode).toBe(401);
    const admin = await app.inject({ method: 'GET', url: '/unguarded', headers: { authorization: bearer('admin') } });
    expect(admin.statusCode).toBe(403);
    const body = admin.json<{ error: { name: string; message: string } }>();
    expect(body.error.name).toBe('ForbiddenError');
    expect(body.error.message).toMatch(/no role policy/);
  });

  it('redacts the authorization header wherever request headers end up in the log', async () => {
    // Log request headers the way a careless handler or error path would.
    app.log.info({ req: { headers: { authorization: bearer('admin') } }, headers: { authorization: bearer('operator') } }, 'headers');
    await app.inject({ method: 'GET', url: '/healthz', headers: { authorization: bearer('viewer') } });
    const text = logged.join('');
    expect(text).toContain('[redacted]');
    for (const key of [keys.admin, keys.operator, keys.viewer]) expect(text).not.toContain(key);
  });
});

/** `GET /a/:b` lines from fastify's printRoutes tree (commonPrefix: false): each level adds its segment. */
function routesOf(tree: string): Array<{ method: string; route: string }> {
  const out: Array<{ method: string; route: string }> = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    if (!match[3]) continue;
    for (const method of match[3].split(', ')) out.push({ method, route: stack.join('') });
  }
  return out;
}
