/**
 * The ledger through the real consumer into PostgreSQL, OpenSearch and MinIO: two agents' records, with the
 * agents' shipped counts written to ledger_edge as the check-in service writes them. The ledger balances;
 * dead-lettered records are counted; minutes not yet settled show what is still on its way as in flight;
 * rows deleted behind the control plane's back (from the table, from the index) show as missing, for those
 * minutes and those stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorBodyResponse } from '@sluice/shared/api/error-body';
import type { LedgerResponse, LedgerRow } from '@sluice/shared/api/ledger';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ownSearchIndices } from '@sluice/shared/node/testing/test-resources';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { fleetHealthFromConfig } from '../src/health/fleet-health-services.ts';
import { envelope } from './support/messages.ts';
import { countRows, createTopics, deleteSearchIndices, envelopeMessage, removeBucket, searchCount, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;
let server: TestServer;
let viewer: string;
const id = suffix();
const bucket = `ledger-${id}`;
const index = `cp-ledger-${id}`;
const dataset = 'meters';

const MINUTE = 60_000;
const now = Date.now();
/** Two settled minutes (well past the 120 s settle time) and the current one. */
const minuteA = Math.floor(now / MINUTE) * MINUTE - 10 * MINUTE;
const minuteB = minuteA + MINUTE;
const current = Math.floor(now / MINUTE) * MINUTE;

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema, { SLUICE_S3_BUCKET: bucket });
  ownSearchIndices(`${index}-*`);
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'ledger-int' });
  await new DatasetStore(state.pool).create(
    { name: dataset, sinks: { postgres: { enabled: true }, search: { enabled: true, index }, objectStore: { enabled: true, partitionBy: 'hour' } } },
    { type: 'object', required: ['device'], properties: { device: { type: 'string' }, kwh: { type: 'number' } } },
  );
  await createTopics(config, [`${config.topicPrefix}${dataset}`, config.dlqTopic]);
  viewer = (await new ApiKeyStore(state.pool).create('viewer', 'ledger viewer')).key;
  server = await testServer(state.pool, { fleetHealth: fleetHealthFromConfig(config, state.pool) });
});

afterAll(async () => {
  await server?.close();
  await running?.stop();
  await producer?.close();
  await deleteSearchIndices(index);
  await removeBucket(bucket);
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

/** `count` records of an agent in a minute of ingest time; `invalid` of them fail the dataset's schema. */
function records(agentId: string, minute: number, count: number, invalid = 0) {
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(minute + 1_000 + i * 100).toISOString();
    const payload = i < invalid ? { device: 42 } : { device: `d${i % 3}`, kwh: i };
    return envelopeMessage(`${config.topicPrefix}${dataset}`, envelope(dataset, `${agentId}-${minute}-${i}`, payload, { agentId, ingestTime: at, eventTime: at }));
  });
}

/** What the check-in service does with an agent's ledger rows: cumulative per minute, the larger wins. */
async function reportShipped(agentId: string, minute: number, shipped: number): Promise<void> {
  await state.pool.query(
    `INSERT INTO ledger_edge (agent_id, dataset, minute, shipped) VALUES ($1, $2, $3, $4)
     ON CONFLICT (agent_id, dataset, minute) DO UPDATE SET shipped = GREATEST(ledger_edge.shipped, excluded.shipped)`,
    [agentId, dataset, new Date(minute), shipped],
  );
}

async function ledger(query = ''): Promise<LedgerResponse> {
  const from = new Date(minuteA - 5 * MINUTE).toISOString();
  const response = await server.app.inject({ method: 'GET', url: `/api/v1/ledger?from=${from}${query}`, headers: { authorization: `Bearer ${viewer}` } });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

function row(answer: LedgerResponse, agentId: string, minute: number): LedgerRow | undefined {
  return answer.rows.find((r) => r.agentId === agentId && r.minute === new Date(minute).toISOString());
}

describe('ledger: shipped at the edge against loaded per store', () => {
  it('balances after a load through the real consumer, counting dead-lettered records', async () => {
    await producer.send([...records('agent-a', minuteA, 30, 2), ...records('agent-a', minuteB, 20), ...records('agent-b', minuteA, 25), ...records('agent-b', minuteB, 15)]);
    await reportShipped('agent-a', minuteA, 20);
    // A later, larger cumulative report wins; a stale smaller one never lowers it.
    await reportShipped('agent-a', minuteA, 30);
    await reportShipped('agent-a', minuteA, 12);
    await reportShipped('agent-a', minuteB, 20);
    await reportShipped('agent-b', minuteA, 25);
    await reportShipped('agent-b', minuteB, 15);
    running = await startConsumer(config, createLogger('ledger-int', { level: 'warn' }));
    await waitFor('88 rows', () => countRows(state.pool, `${config.dataSchema}.${dataset}`), (n) => n === 88);
    await waitFor('88 documents', () => searchCount(index), (n) => n === 88);
    await waitFor('2 DLQ rows', async () => Number((await state.pool.query<{ n: string }>('SELECT count(*) AS n FROM dlq')).rows[0]!.n), (n) => n === 2);

    const answer = await ledger();
    expect(answer.uncounted).toEqual([]);
    expect(answer.rows).toHaveLength(4);
    expect(row(answer, 'agent-a', minuteA)).toMatchObject({
      settled: true,
      shipped: 30,
      loaded: { postgres: 28, search: 28, objectStore: 28 },
      loadedEverywhere: 28,
      deadLettered: 2,
      inFlight: 0,
      missing: 0,
      missingIn: [],
    });
    for (const [agent, minute, n] of [['agent-a', minuteB, 20], ['agent-b', minuteA, 25], ['agent-b', minuteB, 15]] as const) {
      expect(row(answer, agent, minute)).toMatchObject({ shipped: n, loaded: { postgres: n, search: n, objectStore: n }, deadLettered: 0, inFlight: 0, missing: 0 });
    }
    expect(answer.totals).toEqual({ shipped: 90, loadedEverywhere: 88, deadLettered: 2, inFlight: 0, missing: 0 });

    // Filters: one agent, one dataset.
    const onlyB = await ledger('&agent=agent-b');
    expect(onlyB.rows.map((r) => r.agentId)).toEqual(['agent-b', 'agent-b']);
    expect((await ledger('&dataset=nothing')).rows).toEqual([]);
  });

  it('shows records of a recent minute not yet in the stores as in flight, not missing', async () => {
    await producer.send(records('agent-a', current, 6));
    // Shipped counts 4 records more than reached Kafka so far (still on their way).
    await reportShipped('agent-a', current, 10);
    await waitFor('94 rows', () => countRows(state.pool, `${config.dataSchema}.${dataset}`), (n) => n === 94);
    await waitFor('94 documents', () => searchCount(index), (n) => n === 94);
    expect(row(await ledger(), 'agent-a', current)).toMatchObject({ settled: false, shipped: 10, loadedEverywhere: 6, inFlight: 4, missing: 0, missingIn: [] });
  });

  it('shows rows deleted from a store behind its back as missing, for those minutes and that store', async () => {
    await state.pool.query(`DELETE FROM ${config.dataSchema}.${dataset} WHERE id IN ($1, $2, $3)`, [`agent-a-${minuteB}-0`, `agent-a-${minuteB}-1`, `agent-a-${minuteB}-2`]);
    const deleted = await fetch(`${stackEnv.searchUrl}/${index}-*/_delete_by_query?refresh=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: { terms: { id: [`agent-b-${minuteA}-0`, `agent-b-${minuteA}-1`] } } }),
    });
    expect(((await deleted.json()) as { deleted: number }).deleted).toBe(2);

    const answer = await ledger();
    expect(row(answer, 'agent-a', minuteB)).toMatchObject({ loaded: { postgres: 17, search: 20, objectStore: 20 }, loadedEverywhere: 17, inFlight: 0, missing: 3, missingIn: ['postgres'] });
    expect(row(answer, 'agent-b', minuteA)).toMatchObject({ loaded: { postgres: 25, search: 23, objectStore: 25 }, loadedEverywhere: 23, missing: 2, missingIn: ['search'] });
    // The other minutes still balance.
    expect(row(answer, 'agent-a', minuteA)).toMatchObject({ missing: 0, missingIn: [] });
    expect(row(answer, 'agent-b', minuteB)).toMatchObject({ missing: 0, missingIn: [] });
    expect(answer.totals.missing).toBe(5);
  });

  it('refuses a range over 24 h and one that ends before it starts, with the reason', async () => {
    const ask = (query: string) => server.app.inject({ method: 'GET', url: `/api/v1/ledger?${query}`, headers: { authorization: `Bearer ${viewer}` } });
    const wide = await ask('from=2026-01-01T00:00:00Z&to=2026-01-02T00:01:00Z');
    expect(wide.statusCode).toBe(400);
    expect(wide.json<ErrorBodyResponse>().error.message).toMatch(/^from, to: the range spans 24\.0 h; one request covers at most 24 h/);
    const reversed = await ask('from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json<ErrorBodyResponse>().error.message).toMatch(/^from: must be before to/);
    expect((await ask('from=yesterday')).statusCode).toBe(400);
    const anonymous = await server.app.inject({ method: 'GET', url: '/api/v1/ledger' });
    expect(anonymous.statusCode).toBe(401);
  });
});
