/**
 * Access control of every control plane endpoint, against the real `sluice-control-plane serve` process on
 * the local stack's PostgreSQL and Kafka, with keys made by the real `create-api-key` command: no key → 401,
 * a wrong key → 401, a key below the route's role (or any key on an agent route) → 403, the right credential
 * → the route's answer. An in-process server (same routes) checks that the table below and the fleet half
 * (test/support/access-fleet.ts) cover every route it registers, and that a route without a role is
 * refused. The serve process's own log is checked for keys at the end.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { freePort, stopProcess, waitForHttpOk } from '@sluice/shared/node/testing/processes';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { createFleetFixture, fleetEndpoints, type Endpoint, type FleetFixture } from '../../test/support/access-fleet.ts';
import { freshState, suffix } from '../../test/support/state.ts';
import { testServer, type TestServer } from '../../test/support/test-server.ts';
import type { Role } from '../auth/api-keys.ts';
import { routeTable } from './server.ts';

const BIN = fileURLToPath(new URL('../../bin/sluice-control-plane.js', import.meta.url));
const run = promisify(execFile);
const id = suffix();
const dataset = `acl_${id}`;
const topicPrefix = testTopicPrefix(`acl${id}`);
const BODY_LIMIT = 256 * 1024;

/** Filled in beforeAll (the DLQ entry's id comes from PostgreSQL; the fleet's from the serve process). */
let dlqId = '';
let fleet: FleetFixture;
const schema = { type: 'object', required: ['device'], properties: { device: { type: 'string' } } };
/** In order: the dataset is created before it is read, versioned and ingested into. */
const DATA_ENDPOINTS = (): Endpoint[] => [
  { method: 'GET', route: '/healthz', path: '/healthz', auth: 'viewer', ok: 200 },
  { method: 'HEAD', route: '/healthz', path: '/healthz', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/readyz', path: '/readyz', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/metrics', path: '/metrics', auth: 'viewer', ok: 200 },
  { method: 'HEAD', route: '/metrics', path: '/metrics', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs', path: '/docs', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/', path: '/docs/', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/json', path: '/docs/json', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/yaml', path: '/docs/yaml', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/static/index.html', path: '/docs/static/index.html', auth: 'viewer', ok: 302 },
  { method: 'GET', route: '/docs/static/swagger-initializer.js', path: '/docs/static/swagger-initializer.js', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/docs/static/*', path: '/docs/static/swagger-ui.css', auth: 'viewer', ok: 200 },
  {
    method: 'POST',
    route: '/api/v1/datasets',
    path: '/api/v1/datasets',
    auth: 'operator',
    ok: 201,
    body: { name: dataset, sinks: { postgres: { enabled: true } }, schema },
  },
  { method: 'GET', route: '/api/v1/datasets', path: '/api/v1/datasets', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/datasets/:name', path: `/api/v1/datasets/${dataset}`, auth: 'viewer', ok: 200 },
  {
    method: 'POST',
    route: '/api/v1/datasets/:name/versions',
    path: `/api/v1/datasets/${dataset}/versions`,
    auth: 'operator',
    ok: 201,
    body: { schema: { ...schema, properties: { ...schema.properties, note: { type: 'string' } } } },
  },
  { method: 'GET', route: '/api/v1/datasets/:name/versions/:version', path: `/api/v1/datasets/${dataset}/versions/1`, auth: 'viewer', ok: 200 },
  { method: 'POST', route: '/api/v1/datasets/:name/versions/check', path: `/api/v1/datasets/${dataset}/versions/check`, auth: 'operator', ok: 200, body: { schema } },
  { method: 'POST', route: '/api/v1/datasets/:name/dry-run', path: `/api/v1/datasets/${dataset}/dry-run`, auth: 'operator', ok: 200, body: { records: [{}] } },
  { method: 'GET', route: '/api/v1/datasets/:name/quality', path: `/api/v1/datasets/${dataset}/quality`, auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/lookups', path: '/api/v1/lookups', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/lookups/:name', path: '/api/v1/lookups/nothere', auth: 'viewer', ok: 404 },
  { method: 'PUT', route: '/api/v1/lookups/:name', path: '/api/v1/lookups/access_check', auth: 'operator', ok: 200, body: { rows: [] } },
  { method: 'DELETE', route: '/api/v1/lookups/:name', path: '/api/v1/lookups/nothere', auth: 'operator', ok: 404 },
  { method: 'POST', route: '/api/v1/ingest/:dataset', path: `/api/v1/ingest/${dataset}`, auth: 'operator', ok: 200, body: [{ device: 'a' }] },
  { method: 'GET', route: '/api/v1/dlq', path: '/api/v1/dlq', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/dlq/counts', path: '/api/v1/dlq/counts', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/dlq/:id', path: `/api/v1/dlq/${dlqId}`, auth: 'viewer', ok: 200 },
  { method: 'POST', route: '/api/v1/dlq/:id/replay', path: `/api/v1/dlq/${dlqId}/replay`, auth: 'operator', ok: 200 },
  { method: 'POST', route: '/api/v1/dlq/dry-run', path: '/api/v1/dlq/dry-run', auth: 'operator', ok: 200, body: { ids: [dlqId] } },
  { method: 'POST', route: '/api/v1/dlq/replay', path: '/api/v1/dlq/replay', auth: 'operator', ok: 200, body: { ids: [dlqId], force: true } },
  { method: 'GET', route: '/api/v1/health', path: '/api/v1/health', auth: 'viewer', ok: 200 },
  // Lake tables: this dataset has no object-store sink, so it is no table (404 once access is granted).
  { method: 'GET', route: '/api/v1/tables', path: '/api/v1/tables', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/tables/:name', path: `/api/v1/tables/${dataset}`, auth: 'viewer', ok: 404 },
  { method: 'GET', route: '/api/v1/tables/:name/partitions', path: `/api/v1/tables/${dataset}/partitions`, auth: 'viewer', ok: 404 },
  { method: 'PUT', route: '/api/v1/tables/:name', path: `/api/v1/tables/${dataset}`, auth: 'operator', ok: 404, body: { description: 'x' } },
  { method: 'DELETE', route: '/api/v1/tables/:name', path: `/api/v1/tables/${dataset}`, auth: 'operator', ok: 404 },
  // Schema compare (stores nothing) and apply (the dataset's version 1; the stores are already ready for it).
  { method: 'POST', route: '/api/v1/schema/compare', path: '/api/v1/schema/compare', auth: 'viewer', ok: 200, body: { dataset, from: { version: 1 }, to: { schema } } },
  { method: 'POST', route: '/api/v1/schema/versions/:id/apply', path: `/api/v1/schema/versions/${dataset}@1/apply`, auth: 'operator', ok: 200 },
  // Ingestion jobs: a job id nobody made is 404 once access is granted; creating one only stores it (not started).
  { method: 'POST', route: '/api/v1/ingestion/jobs', path: '/api/v1/ingestion/jobs', auth: 'operator', ok: 201, body: { dataset, source: { kind: 'kafka', topic: `${topicPrefix}${dataset}`, ranges: [{ partition: 0, from: 0, to: 1 }] } } },
  { method: 'GET', route: '/api/v1/ingestion/jobs', path: '/api/v1/ingestion/jobs', auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/ingestion/jobs/:id', path: `/api/v1/ingestion/jobs/job_${'0'.repeat(32)}`, auth: 'viewer', ok: 404 },
  { method: 'POST', route: '/api/v1/ingestion/jobs/:id/start', path: `/api/v1/ingestion/jobs/job_${'0'.repeat(32)}/start`, auth: 'operator', ok: 404 },
  { method: 'POST', route: '/api/v1/ingestion/jobs/:id/cancel', path: `/api/v1/ingestion/jobs/job_${'0'.repeat(32)}/cancel`, auth: 'operator', ok: 404 },
  { method: 'GET', route: '/api/v1/ingestion/workers', path: '/api/v1/ingestion/workers', auth: 'viewer', ok: 200 },
  // Analytics: this dataset declares no aggregation (404 for one by name; empty counters).
  { method: 'GET', route: '/api/v1/analytics/:dataset/aggregates', path: `/api/v1/analytics/${dataset}/aggregates?aggregation=none`, auth: 'viewer', ok: 404 },
  { method: 'GET', route: '/api/v1/analytics/:dataset/records', path: `/api/v1/analytics/${dataset}/records`, auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/analytics/:dataset/counters', path: `/api/v1/analytics/${dataset}/counters`, auth: 'viewer', ok: 200 },
  { method: 'GET', route: '/api/v1/analytics/:dataset/anomalies', path: `/api/v1/analytics/${dataset}/anomalies`, auth: 'viewer', ok: 200 },
  { method: 'POST', route: '/api/v1/alerts/webhook', path: '/api/v1/alerts/webhook', auth: 'viewer', ok: 200, body: { version: '4', status: 'firing', receiver: 'acl', alerts: [{ status: 'firing', labels: { alertname: 'AclTest' } }] } },
];
const ENDPOINTS = (): Endpoint[] => [...DATA_ENDPOINTS(), ...fleetEndpoints(fleet)];

/** Routes whose access is checked by a test of their own rather than this table, and why. */
const CHECKED_ELSEWHERE: Record<string, string> = {
  // Public static files whose answer depends on whether the console was built (routes/console.test.ts).
  'GET /console': 'console.test.ts',
  'GET /console/*': 'console.test.ts',
};

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

async function call(endpoint: Endpoint, authorization: string | undefined, body: unknown = endpoint.body, extra: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = { ...extra };
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
const guarded = (e: Endpoint): boolean => e.auth !== 'public';
/** The credential that may call the endpoint (none for a public one) and the headers that go with it. */
function rightCaller(e: Endpoint): { authorization: string | undefined; headers: Record<string, string> } {
  if (e.auth === 'public') return { authorization: undefined, headers: {} };
  if (e.auth === 'agent') return { authorization: `Bearer ${fleet.agent.credential}`, headers: e.headers ?? {} };
  return { authorization: bearer(e.auth), headers: {} };
}
/** API keys below the endpoint's auth: each must get 403. */
function keysBelow(e: Endpoint): Array<keyof typeof keys> {
  if (e.auth === 'agent') return ['viewer', 'operator', 'admin'];
  if (e.auth === 'admin') return ['viewer', 'operator', 'metrics'];
  if (e.auth === 'operator') return ['viewer', 'metrics'];
  return [];
}

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
  fleet = await createFleetFixture(baseUrl, keys.admin, state.pool, id);
});

afterAll(async () => {
  await stopProcess(serve);
  await state?.drop();
});

describe('control plane endpoints (real serve process)', () => {
  it('answers every endpoint 401 without a key and with a wrong or malformed one, before reading the body', async () => {
    for (const endpoint of ENDPOINTS().filter(guarded)) {
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

  it('refuses a key below the route role (any key on an agent route) with 403, and serves the right caller (the metrics key is a viewer)', async () => {
    for (const endpoint of ENDPOINTS()) {
      for (const role of keysBelow(endpoint)) {
        const below = await call(endpoint, bearer(role), endpoint.body, endpoint.headers);
        expect(below.status, `${label(endpoint)} as ${role}`).toBe(403);
        if (endpoint.method !== 'HEAD') expect((JSON.parse(below.text) as { error: { name: string } }).error.name).toBe('ForbiddenError');
      }
      const caller = rightCaller(endpoint);
      const right = await call(endpoint, caller.authorization, endpoint.body, caller.headers);
      expect(right.status, `${label(endpoint)} as ${endpoint.auth}: ${right.text.slice(0, 300)}`).toBe(endpoint.ok);
      if (endpoint.auth === 'viewer' && endpoint.method === 'GET') {
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
    const unknown: Endpoint = { method: 'GET', route: '', path: '/api/v1/nothing-here', auth: 'viewer', ok: 404 };
    expect((await call(unknown, undefined)).status).toBe(401);
    expect((await call(unknown, bearer('viewer'))).status).toBe(404);
  });

  it('limits the request body of every route that takes one (413), and never reads it without a key (401)', async () => {
    const big = JSON.stringify({ schema: { description: 'x'.repeat(BODY_LIMIT + 1024) } });
    // Agent and public routes are left out: a key is refused on an agent route before its body is read, and the
    // check-in and enroll routes have limits of their own (test/checkin.int.test.ts, test/enrollment.int.test.ts).
    for (const endpoint of ENDPOINTS().filter((e) => (e.method === 'POST' || e.method === 'PATCH') && e.auth !== 'agent' && e.auth !== 'public')) {
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
  let server: TestServer;
  let app: TestServer['app'];
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
    // Every service, as `serve` has them, so every route is registered.
    server = await testServer(state.pool, {
      logger,
      produce: () => Promise.resolve(),
      produceOne: (m) => Promise.resolve({ topic: m.topic, partition: 0, offset: 0n }),
      kafka: { ping: () => Promise.resolve(), lag: () => Promise.resolve([]) },
      topicPrefix,
      maxRecordBytes: 4096,
      bodyLimitBytes: BODY_LIMIT,
    });
    app = server.app;
    // Added without auth, as a careless future route would be.
    app.get('/unguarded', () => ({ open: true }));
    await app.ready();
  });

  afterAll(async () => {
    await server?.close();
  });

  // Every route the server registers must have a row in the endpoint table (HEAD goes with GET; CORS
  // preflights are no endpoint), so a route added later cannot miss its real-process access check; and
  // every row must be a registered route. test/route-auth.int.test.ts walks the same route table for 401/403.
  it('has every registered route in the endpoint table, and every row registered', () => {
    const norm = (method: string, route: string): string => `${method === 'HEAD' ? 'GET' : method} ${route}`;
    const registered = new Set(routeTable(app).filter((r) => r.method !== 'OPTIONS' && r.url !== '/unguarded').map((r) => norm(r.method, r.url)));
    const table = new Set(ENDPOINTS().map((e) => norm(e.method, e.route)));
    expect([...registered].filter((r) => !table.has(r) && CHECKED_ELSEWHERE[r] === undefined).sort()).toEqual([]);
    expect([...table].filter((r) => !registered.has(r)).sort()).toEqual([]);
    expect(registered.size).toBeGreaterThan(60);
  });

  it('refuses a route without an auth policy even to an admin key (fail closed), and 401 without a key', async () => {
    expect((await app.inject({ method: 'GET', url: '/unguarded' })).statusCode).toBe(401);
    const admin = await app.inject({ method: 'GET', url: '/unguarded', headers: { authorization: bearer('admin') } });
    expect(admin.statusCode).toBe(403);
    const body = admin.json<{ error: { name: string; message: string } }>();
    expect(body.error.name).toBe('ForbiddenError');
    expect(body.error.message).toMatch(/no auth policy/);
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
