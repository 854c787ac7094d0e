/**
 * GET /api/v1/agents carries each agent's outbox from its last check-in (depth and the age of the oldest
 * row), so the console's fleet table shows what waits at the edge without a request per agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSummary } from '@sluice/shared/api/fleet-agents';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { bearer, checkinBody, createToken, enrolledAgent, okCheckin } from './support/fleet-requests.ts';
import { freshState } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const ADMIN = 'bootstrap-admin-key-for-outbox-tests-0123456789';
let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let viewer = '';

beforeAll(async () => {
  state = await freshState();
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  viewer = (await apiKeys.create('viewer', 'console')).key;
  server = await testServer(state.pool, { apiKeys });
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

const listed = async (): Promise<AgentSummary[]> => (await server.app.inject({ url: '/api/v1/agents', headers: bearer(viewer) })).json<{ items: AgentSummary[] }>().items;

describe('the agents list', () => {
  it('shows each agent outbox as of its last check-in, null before the first', async () => {
    const { app } = server;
    const token = await createToken(app, ADMIN, { maxUses: 2 });
    const busy = await enrolledAgent(app, token.token, 'gw-busy');
    const quiet = await enrolledAgent(app, token.token, 'gw-quiet');
    expect((await listed()).map((a) => a.outbox)).toEqual([null, null]);

    const body = checkinBody();
    await okCheckin(app, busy, { ...body, health: { ...body.health, outbox: { rows: 40, bytes: 8000, oldestAgeMs: 2000 } } });
    await okCheckin(app, quiet);
    // The check-in writer stores reports in the background.
    const agents = await waitFor(async () => {
      const items = await listed();
      return items.every((a) => a.outbox !== null) ? items : undefined;
    }, 10_000);
    const byName = Object.fromEntries(agents.map((a) => [a.name, a.outbox]));
    expect(byName).toEqual({ 'gw-busy': { rows: 40, bytes: 8000, oldestAgeMs: 2000 }, 'gw-quiet': { rows: 0, bytes: 0, oldestAgeMs: null } });

    const later = checkinBody();
    await okCheckin(app, busy, { ...later, health: { ...later.health, outbox: { rows: 3, bytes: 600, oldestAgeMs: 150 } } });
    await waitFor(async () => (await listed()).find((a) => a.name === 'gw-busy')?.outbox?.rows === 3, 10_000, 'the newer outbox in the list');
    const detail = await app.inject({ url: `/api/v1/agents/${busy.agentId}`, headers: bearer(viewer) });
    expect(detail.json<AgentSummary>().outbox).toEqual({ rows: 3, bytes: 600, oldestAgeMs: 150 });
  });
});
