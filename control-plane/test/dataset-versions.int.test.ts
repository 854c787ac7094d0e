/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- inject().json() and expect.any() are untyped; the assertions check the shape */
/**
 * Schema versions as the console works with them, against real PostgreSQL: a proposed version is checked
 * (the report addVersion would give) without storing anything, each stored version is read back with its
 * schema, a dataset shows its Kafka topic, and creating a dataset or adding a version is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { bearer } from './support/fleet-requests.ts';
import { freshState } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const ADMIN = 'bootstrap-admin-key-for-version-tests-0123456789';
const v1 = { type: 'object', required: ['device'], properties: { device: { type: 'string' }, temperature: { type: 'number' } } };
const addsOptional = { ...v1, properties: { ...v1.properties, humidity: { type: 'number' } } };
const breaks = { type: 'object', required: ['device', 'site'], properties: { device: { type: 'integer' }, site: { type: 'string' } } };

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let operator = '';
let viewer = '';

beforeAll(async () => {
  state = await freshState();
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  operator = (await apiKeys.create('operator', 'ops')).key;
  viewer = (await apiKeys.create('viewer', 'eyes')).key;
  server = await testServer(state.pool, { apiKeys, topicPrefix: 'sluice-versions.' });
  const created = await server.app.inject({ method: 'POST', url: '/api/v1/datasets', headers: bearer(operator), payload: { name: 'meters', sinks: { postgres: { enabled: true } }, schema: v1 } });
  expect(created.statusCode, created.body).toBe(201);
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

const check = (schema: unknown, key = operator, name = 'meters') =>
  server.app.inject({ method: 'POST', url: `/api/v1/datasets/${name}/versions/check`, headers: bearer(key), payload: { schema } });
const storedVersions = async () => (await state.pool.query<{ version: number }>("SELECT version FROM dataset_versions WHERE dataset = 'meters' ORDER BY version")).rows.map((r) => r.version);

describe('checking a proposed version', () => {
  it('answers the report publishing would give, and stores nothing', async () => {
    const compatible = await check(addsOptional);
    expect(compatible.statusCode).toBe(200);
    expect(compatible.json()).toEqual({
      latestVersion: 1,
      version: 2,
      compatibility: { compatible: true, changes: [{ type: 'ADD_COLUMN', path: 'humidity', compatible: true, backward: true, forward: true, detail: 'new optional field humidity (number)' }] },
    });

    const incompatible = await check(breaks);
    expect(incompatible.statusCode).toBe(200);
    expect(incompatible.json().compatibility).toEqual({
      compatible: false,
      changes: [
        { type: 'CHANGE_TYPE', path: 'device', compatible: false, backward: false, forward: false, from: 'string', to: 'integer', detail: 'field device changed type from string to integer' },
        { type: 'DROP_COLUMN', path: 'temperature', compatible: false, backward: true, forward: true, detail: 'field temperature was removed' },
        { type: 'ADD_COLUMN', path: 'site', compatible: false, backward: false, forward: true, detail: 'new field site (string) is required, but records written before lack it' },
      ],
    });
    // The same report the publish refuses with.
    const refused = await server.app.inject({ method: 'POST', url: '/api/v1/datasets/meters/versions', headers: bearer(operator), payload: { schema: breaks } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.details).toEqual(incompatible.json().compatibility);
    expect(await storedVersions()).toEqual([1]);
  });

  it('refuses what publishing refuses: a schema that does not compile, an unknown dataset, a viewer', async () => {
    const invalid = await check({ type: 'object', properties: { code: { type: 'string', pattern: '^(a)\\1$' } } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.name).toBe('InputError');
    expect((await check({ type: 'nonsense' })).statusCode).toBe(400);
    expect((await check(v1, operator, 'nothere')).statusCode).toBe(404);
    expect((await check(v1, viewer)).statusCode).toBe(403);
    expect(await storedVersions()).toEqual([1]);
  });
});

describe('stored versions', () => {
  it('reads each version back with its schema; the dataset shows its topic', async () => {
    const published = await server.app.inject({ method: 'POST', url: '/api/v1/datasets/meters/versions', headers: bearer(operator), payload: { schema: addsOptional } });
    expect(published.statusCode).toBe(201);
    const first = await server.app.inject({ url: '/api/v1/datasets/meters/versions/1', headers: bearer(viewer) });
    expect(first.json()).toEqual({ version: 1, createdAt: expect.any(String), schema: v1, transforms: [], rules: [] });
    expect((await server.app.inject({ url: '/api/v1/datasets/meters/versions/2', headers: bearer(viewer) })).json().schema).toEqual(addsOptional);
    expect((await server.app.inject({ url: '/api/v1/datasets/meters/versions/3', headers: bearer(viewer) })).statusCode).toBe(404);
    expect((await server.app.inject({ url: '/api/v1/datasets/meters/versions/0', headers: bearer(viewer) })).statusCode).toBe(400);
    const view = await server.app.inject({ url: '/api/v1/datasets/meters', headers: bearer(viewer) });
    expect(view.json()).toMatchObject({ topic: 'sluice-versions.meters', latestVersion: 2 });
    expect((await check(breaks)).json()).toMatchObject({ latestVersion: 2, version: 3 });
  });

  it('audits creating a dataset and adding a version, with who did it', async () => {
    const audit = await server.app.inject({ url: '/api/v1/audit?targetKind=dataset&targetId=meters', headers: bearer(ADMIN) });
    const entries = audit.json().entries as Array<{ action: string; actor: { kind: string; name: string | null }; before: unknown; after: { version: number } }>;
    expect(entries.map((e) => [e.action, e.actor.kind, e.actor.name, e.after.version])).toEqual([
      ['dataset.version', 'apiKey', 'ops', 2],
      ['dataset.create', 'apiKey', 'ops', 1],
    ]);
    expect(entries[0]?.before).toEqual({ version: 1, schema: v1, transforms: [], rules: [] });
  });
});
