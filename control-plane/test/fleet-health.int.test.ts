/**
 * GET /api/v1/fleet/summary over agents rows as the check-in service writes them, and GET
 * /api/v1/pipeline/health through the real consumer, Kafka, PostgreSQL and OpenSearch: throughput,
 * validation failures, a record one sink refused, and consumer lag in records and seconds while a backlog
 * waits (and none once it is consumed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetSummary, PipelineHealthReport } from '@sluice/shared/api/fleet-health';
import { KafkaConsumer, KafkaProducer } from '@sluice/shared/node/kafka';
import { timestampsAt } from '@sluice/shared/node/kafka-timestamps';
import { createLogger } from '@sluice/shared/node/logger';
import { ownSearchIndices } from '@sluice/shared/node/testing/test-resources';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { DEFAULT_CONNECTIVITY } from '../src/fleet/connectivity.ts';
import { FleetSummaryService } from '../src/fleet/fleet-summary.ts';
import { ConsumerLagReader } from '../src/health/consumer-lag.ts';
import { createFleetHealth } from '../src/health/fleet-health-services.ts';
import { storeCounters } from '../src/fleet/ledger-stores.ts';
import { envelope } from './support/messages.ts';
import { countRows, createTopics, deleteSearchIndices, envelopeMessage, searchCount, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let lagClient: KafkaConsumer;
let running: RunningConsumer | undefined;
let server: TestServer;
let viewer: string;
const index = `cp-health-${suffix()}`;
const dataset = 'flow';

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema);
  ownSearchIndices(`${index}-*`);
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'health-int' });
  lagClient = new KafkaConsumer({ brokers: stackEnv.kafkaBrokers, clientId: 'health-int-lag', groupId: config.groupId, topics: [] });
  viewer = (await new ApiKeyStore(state.pool).create('viewer', 'health viewer')).key;
  const topic = `${config.topicPrefix}${dataset}`;
  const lag = new ConsumerLagReader({
    ttlMs: 0,
    source: { lag: () => lagClient.lag([topic]), timestampsAt: (positions) => timestampsAt(stackEnv.kafkaBrokers, positions) },
  });
  const fleetHealth = createFleetHealth({
    pool: state.pool,
    // The defaults (SLUICE_AGENT_STALE_SECONDS 90, SLUICE_AGENT_OFFLINE_SECONDS 300), as GET /agents of testServer has them.
    settings: { agentStaleSeconds: DEFAULT_CONNECTIVITY.staleSeconds, agentOfflineSeconds: DEFAULT_CONNECTIVITY.offlineSeconds, ledgerSettleSeconds: 120 },
    counters: storeCounters(config, state.pool),
    topicPrefix: config.topicPrefix,
    lag,
  });
  server = await testServer(state.pool, { fleetHealth });
});

afterAll(async () => {
  await server?.close();
  await running?.stop();
  await producer?.close();
  await lagClient?.close();
  await deleteSearchIndices(index);
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

async function get<T>(url: string): Promise<T> {
  const response = await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${viewer}` } });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

/** An agents row as enrollment and the batched check-in writer leave it. */
async function agent(id: string, fields: { lastSeenSecondsAgo?: number; version: string; hash?: string; desired?: string; applyState?: string; revoked?: boolean }): Promise<void> {
  await state.pool.query(
    `INSERT INTO agents (id, name, credential_hash, instance_counter, instance_nonce, hostname, version, status, last_seen_at, reported_hash, apply_state, desired_revision_id)
     VALUES ($1, $1, $1 || '-hash', 1, 'n', $1, $2, $3, CASE WHEN $4::int IS NULL THEN NULL ELSE now() - make_interval(secs => $4::int) END, $5, $6, $7)`,
    [id, fields.version, fields.revoked ? 'revoked' : 'active', fields.lastSeenSecondsAgo ?? null, fields.hash ?? null, fields.applyState ?? null, fields.desired ?? null],
  );
}

// Config hashes are sha256 hex (the agents API checks their shape).
const H1 = '1'.repeat(64);
const H0 = '0'.repeat(64);

describe('fleet summary', () => {
  it('counts agents online / stale / offline by last check-in, revoked apart, with versions, drift and apply states', async () => {
    await state.pool.query(`INSERT INTO policies (name, created_by) VALUES ('edge', 'test')`);
    const revision = (
      await state.pool.query<{ id: string }>(`INSERT INTO policy_revisions (policy, number, config, hash, created_by) VALUES ('edge', 1, '{"sources": []}', $1, 'test') RETURNING id`, [H1])
    ).rows[0]!.id;
    await agent('on-current', { lastSeenSecondsAgo: 10, version: '1.0.0', hash: H1, desired: revision, applyState: 'applied' });
    await agent('on-drifted', { lastSeenSecondsAgo: 30, version: '1.1.0', hash: H0, desired: revision, applyState: 'failed' });
    await agent('stale', { lastSeenSecondsAgo: 200, version: '1.0.0', applyState: 'applied' });
    await agent('gone', { lastSeenSecondsAgo: 1_000, version: '1.0.0' });
    await agent('never', { version: '1.1.0', desired: revision });
    await agent('revoked', { lastSeenSecondsAgo: 5, version: '0.9.0', revoked: true });

    const summary = await get<FleetSummary>('/api/v1/fleet/summary');
    expect(summary).toMatchObject({
      thresholds: { staleSeconds: 90, offlineSeconds: 300 },
      agents: { total: 6, online: 2, stale: 1, offline: 2, neverCheckedIn: 1, revoked: 1 },
      versions: { '1.0.0': 3, '1.1.0': 2 },
      drift: 2,
      applyStates: { applied: 2, failed: 1, unknown: 2 },
    });
    expect(Math.abs(Date.parse(summary.at) - Date.now())).toBeLessThan(60_000);

    // GET /agents classifies each agent by the same rules: its status filter and drift filter count alike.
    const listed = async (query: string): Promise<string[]> => (await get<{ items: Array<{ id: string }> }>(`/api/v1/agents?${query}`)).items.map((a) => a.id).sort();
    expect(await listed('status=online')).toEqual(['on-current', 'on-drifted']);
    expect(await listed('status=stale')).toEqual(['stale']);
    expect(await listed('status=offline')).toEqual(['gone', 'never']);
    expect(await listed('drift=true')).toEqual(['never', 'on-drifted']);
    const each = await get<{ items: Array<{ id: string; connectivity: string; drift: boolean }> }>('/api/v1/agents');
    expect(Object.fromEntries(each.items.map((a) => [a.id, `${a.connectivity}${a.drift ? ' drift' : ''}`]))).toMatchObject({
      'on-current': 'online',
      'on-drifted': 'online drift',
      stale: 'stale',
      gone: 'offline',
      never: 'offline drift',
    });

    // Other thresholds move the same agents between the classes.
    const strict = await new FleetSummaryService(state.pool, { staleSeconds: 20, offlineSeconds: 100 }).summary();
    expect(strict.agents).toMatchObject({ online: 1, stale: 1, offline: 3, revoked: 1 });
  });
});

describe('pipeline health', () => {
  it('reports lag in records and seconds while a backlog waits, then throughput, failures and sink refusals once consumed', async () => {
    await new DatasetStore(state.pool).create(
      { name: dataset, sinks: { postgres: { enabled: true }, search: { enabled: true, index } } },
      // `value` is left untyped: the search engine maps it from the first document it sees.
      { type: 'object', required: ['device'], properties: { device: { type: 'string' }, value: {} } },
    );
    const topic = `${config.topicPrefix}${dataset}`;
    await createTopics(config, [topic, config.dlqTopic]);
    const key = 'one-partition';
    const message = (id: string, payload: unknown) => ({ ...envelopeMessage(topic, envelope(dataset, id, payload)), key });
    await producer.send([...Array.from({ length: 10 }, (_, i) => message(`ok-${i}`, { device: 'd', value: i })), message('bad-0', { device: 1 }), message('bad-1', { value: 2 })]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    const waiting = await get<PipelineHealthReport>('/api/v1/pipeline/health?minutes=5');
    expect(waiting.lagError).toBeNull();
    const backlog = waiting.datasets.find((d) => d.dataset === dataset)!;
    expect(backlog.lag).toMatchObject({ records: 12 });
    expect(backlog.lag!.seconds).toBeGreaterThanOrEqual(1);
    const lagging = backlog.lag!.partitions.filter((p) => p.records > 0);
    expect(lagging.map((p) => ({ records: p.records, seconds: p.seconds }))).toEqual([{ records: 12, seconds: backlog.lag!.seconds }]);
    expect(backlog.totals).toEqual({ ingested: 0, deadLettered: 0, validationFailures: 0, sinkErrors: {} });

    running = await startConsumer(config, createLogger('health-int', { level: 'silent' }));
    await waitFor('10 rows', () => countRows(state.pool, `${config.dataSchema}.${dataset}`), (n) => n === 10);
    await waitFor('10 documents', () => searchCount(index), (n) => n === 10);
    // `value` is a number in the index now: a text value is refused by the search engine only.
    await producer.send([message('text-value', { device: 'd', value: 'not a number' })]);

    const report = await waitFor(
      'the refusal and a drained backlog in the report',
      () => get<PipelineHealthReport>('/api/v1/pipeline/health?minutes=5'),
      (r) => {
        const d = r.datasets.find((x) => x.dataset === dataset);
        return d?.totals.sinkErrors.search?.rejected === 1 && d.totals.ingested === 10 && d.lag?.records === 0;
      },
      30_000,
    );
    const flow = report.datasets.find((d) => d.dataset === dataset)!;
    expect(flow.totals).toEqual({ ingested: 10, deadLettered: 3, validationFailures: 2, sinkErrors: { search: { failedWrites: 0, rejected: 1 } } });
    expect(flow.deadLetteredByKind).toEqual({ schema: 2, sink: 1 });
    expect(flow.lag).toMatchObject({ records: 0, seconds: 0 });
    expect(flow.perMinute.reduce((n, m) => n + m.ingested, 0)).toBe(10);
    expect(flow.perMinute.every((m) => /:00\.000Z$/.test(m.minute))).toBe(true);
  });
});
