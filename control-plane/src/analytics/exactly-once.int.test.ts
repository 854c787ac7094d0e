import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { KafkaConsumer, KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { countRows, createTopics, deleteSearchIndices, envelopeMessage, searchCount, testConfig, waitFor } from '../../test/support/harness.ts';
import { batch, envelope } from '../../test/support/sink-fixtures.ts';
import { freshState, stackEnv, suffix } from '../../test/support/state.ts';
import { startConsumer, type RunningConsumer } from '../consumer/consumer-service.ts';
import { DatasetStore } from '../datasets/dataset-store.ts';
import { replayEntry } from '../dlq/replay.ts';
import { PostgresSink } from '../sinks/postgres/postgres-sink.ts';
import { PaneStore } from './pane-store.ts';
import { AnalyticsQueries } from './analytics-queries.ts';
import { SeenIdLedger } from './seen-id-ledger.ts';
import { computeWindows, findAggregation, readPanes } from './windows.ts';

const dataSchema = `cp_data_${suffix()}`;
let state: Awaited<ReturnType<typeof freshState>>;
let sink: PostgresSink;

const schema = { type: 'object', properties: { site: { type: 'string' }, temp: { type: 'number' }, user: { type: 'string' } } };
function spec(name: string, postgres: boolean): DatasetVersion {
  return {
    spec: {
      name,
      sinks: postgres ? { postgres: { enabled: true } } : { search: { enabled: true } },
      aggregations: [{ name: 'by_site', groupBy: ['/site'], measures: [{ field: '/temp', percentiles: true }], distinct: ['/user'] }],
    },
    version: 1,
    schema,
  };
}

const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
/** 600 records over 12 minutes, 3 sites, 40 users; integer temperatures so sums are exact in any order. */
function records(dataset: string): Envelope[] {
  return Array.from({ length: 600 }, (_, i) =>
    envelope(dataset, `r-${i}`, { site: `s${i % 3}`, temp: (i * 37) % 101, user: `u${i % 40}` }, new Date(T0 + i * 1_200).toISOString()),
  );
}

/** What one clean delivery must give, computed from the records themselves. */
function reference(all: readonly Envelope[]) {
  const out = new Map<string, { count: number; sum: number; min: number; max: number; temps: number[]; users: Set<string> }>();
  for (const e of all) {
    const p = e.payload as { site: string; temp: number; user: string };
    const start = Math.floor(Date.parse(e.eventTime) / 300_000) * 300_000;
    const key = `${new Date(start).toISOString()} ${p.site}`;
    const w = out.get(key) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity, temps: [], users: new Set<string>() };
    w.count++;
    w.sum += p.temp;
    w.min = Math.min(w.min, p.temp);
    w.max = Math.max(w.max, p.temp);
    w.temps.push(p.temp);
    w.users.add(p.user);
    out.set(key, w);
  }
  return out;
}

async function windows(ds: DatasetVersion) {
  const a = findAggregation(ds.spec, 'by_site')!;
  const panes = await readPanes(state.pool, ds.spec.name, a, T0 - 3_600_000, T0 + 3_600_000);
  return computeWindows(a, panes, T0 - 3_600_000, T0 + 3_600_000, 300_000, 300_000);
}

async function expectMatchesReference(ds: DatasetVersion, all: readonly Envelope[]): Promise<void> {
  const ref = reference(all);
  const got = await windows(ds);
  expect(got.map((w) => `${w.start} ${String(w.group['/site'])}`).sort()).toEqual([...ref.keys()].sort());
  for (const w of got) {
    const r = ref.get(`${w.start} ${String(w.group['/site'])}`)!;
    const temp = w.measures['/temp']!;
    expect({ count: w.count, n: temp.count, sum: temp.sum, min: temp.min, max: temp.max }).toEqual({ count: r.count, n: r.count, sum: r.sum, min: r.min, max: r.max });
    const sorted = [...r.temps].sort((a, b) => a - b);
    const exactP95 = sorted[Math.floor(0.95 * (sorted.length - 1))]!;
    expect(Math.abs(temp.p95! - exactP95)).toBeLessThanOrEqual(exactP95 * 0.0101 + 1e-9);
    expect(w.distinct['/user']).toBe(r.users.size);
  }
}

beforeAll(async () => {
  state = await freshState(dataSchema);
  sink = new PostgresSink({ connectionString: stackEnv.pgUrl, schema: dataSchema, poolSize: 3, panes: new PaneStore(state.schema) });
});
afterAll(async () => {
  await sink.close();
  await state.drop();
});

describe('windowed aggregates count each record once', () => {
  it('PostgreSQL sink: duplicate delivery, DLQ redrive and a re-poll give the aggregates of one clean delivery', async () => {
    const ds = spec('eo_pg', true);
    const all = records('eo_pg');
    // A clean reference dataset, delivered once.
    const clean = spec('eo_clean', true);
    expect(await sink.write(batch(clean, records('eo_clean')))).toMatchObject({ kind: 'ok' });
    // First delivery: everything but ten records that went to the DLQ (say a sink refused them then).
    const dead = new Set(all.filter((_, i) => i % 60 === 7).map((e) => e.id));
    expect(await sink.write(batch(ds, all.filter((e) => !dead.has(e.id)), 0n))).toMatchObject({ kind: 'ok' });
    // Delivered again (a consumer crash before its commit): the same batch at the same offsets.
    expect(await sink.write(batch(ds, all.filter((e) => !dead.has(e.id)), 0n))).toMatchObject({ kind: 'ok' });
    // The DLQ redrive: the dead ten, and by mistake ten already stored ones, at new offsets.
    const redrive = [...all.filter((e) => dead.has(e.id)), ...all.slice(100, 110)];
    expect(await sink.write(batch(ds, redrive, 10_000n))).toMatchObject({ kind: 'ok' });
    // A re-poll: the source read an overlapping range again; same ids, batches cut differently.
    for (let from = 250; from < 600; from += 70) expect(await sink.write(batch(ds, all.slice(from, from + 90), 20_000n + BigInt(from)))).toMatchObject({ kind: 'ok' });
    await expectMatchesReference(ds, all);
    const same = (await windows(ds)).map(({ group, ...w }) => ({ ...w, site: group['/site'] }));
    const once = (await windows(clean)).map(({ group, ...w }) => ({ ...w, site: group['/site'] }));
    expect(same).toEqual(once);
    expect(sink.batchesByPath.staged).toBeGreaterThan(0);
  });

  it('seen-id ledger (no PostgreSQL sink): the same deliveries give the same aggregates', async () => {
    const ds = spec('eo_ledger', false);
    expect(SeenIdLedger.serves(ds)).toBe(true);
    const ledger = new SeenIdLedger(state.pool, new PaneStore(state.schema));
    const all = records('eo_ledger');
    expect(await ledger.fold(ds, all.slice(0, 400))).toBe(400);
    expect(await ledger.fold(ds, all.slice(0, 400))).toBe(0);
    expect(await ledger.fold(ds, [...all.slice(350, 600), ...all.slice(350, 360)])).toBe(200);
    // Two consumers folding overlapping batches at once: the claims serialise, nothing counts twice.
    await Promise.all([ledger.fold(ds, all.slice(0, 300)), ledger.fold(ds, all.slice(200, 600).reverse())]);
    await expectMatchesReference(ds, all);
  });

  it('the query API pages windows, filters a group, hops, rolls and shows the current minute', async () => {
    const ds = spec('eo_pg', true);
    const now = T0 + 7 * 60_000 + 30_000;
    const queries = new AnalyticsQueries({ pool: state.pool, datasets: { latest: (name) => Promise.resolve(name === 'eo_pg' ? ds : undefined) }, now: () => now });
    const range = { aggregation: 'by_site', from: new Date(T0).toISOString(), to: new Date(T0 + 12 * 60_000).toISOString() };
    const whole = await queries.aggregates('eo_pg', { ...range, limit: 1000 });
    expect(whole.windows).toHaveLength(9);
    const paged: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await queries.aggregates('eo_pg', { ...range, limit: 2, ...(cursor ? { cursor } : {}) });
      paged.push(...page.windows);
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(whole.windows);
    const s1 = await queries.aggregates('eo_pg', { ...range, group: '["s1"]' });
    expect(s1.windows.map((w) => w.group)).toEqual([{ '/site': 's1' }, { '/site': 's1' }, { '/site': 's1' }]);
    expect(s1.windows.reduce((n, w) => n + w.count, 0)).toBe(200);
    // Hopping 5-minute windows every minute: each row is in five of them (all 600 rows lie inside the range).
    const hopping = await queries.aggregates('eo_pg', { aggregation: 'by_site', from: new Date(T0 - 4 * 60_000).toISOString(), to: range.to, hopMinutes: 1, limit: 1000 });
    expect(hopping.windows.reduce((n, w) => n + w.count, 0)).toBe(5 * 600);
    const rolling = await queries.aggregates('eo_pg', { aggregation: 'by_site', to: new Date(now).toISOString(), rolling: true, windowMinutes: 3 });
    expect(rolling.windows.map((w) => [w.start, w.count])).toEqual(['s0', 's1', 's2'].map(() => [new Date(T0 + 5 * 60_000).toISOString(), 50]));
    const counters = await queries.counters('eo_pg');
    expect(counters.minute).toBe(new Date(T0 + 7 * 60_000).toISOString());
    // Minute 7 holds rows 350–399: sites s0, s1, s2 get 17, 16 and 17 of them.
    expect(counters.aggregations[0]!.groups.map((g) => [g.group['/site'], g.count])).toEqual([['s0', 17], ['s1', 16], ['s2', 17]]);
    await expect(queries.aggregates('eo_pg', { aggregation: 'nope' })).rejects.toThrow(/no aggregation nope/);
    await expect(queries.aggregates('eo_pg', { ...range, group: 's1' })).rejects.toThrow(/JSON array/);
  });
});

describe('through Kafka and the consumer', () => {
  // Oversize records dead-letter under the first consumer's limit; the operator raises it and redrives them.
  const LIMIT = 4096;
  const id = suffix();
  const pgName = `eo_kafka_pg_${id}`;
  const ledgerName = `eo_kafka_ledger_${id}`;
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('the same records sent twice, redriven from the DLQ and re-read by another group are counted once', async () => {
    const config = testConfig(state.schema, { SLUICE_MAX_RECORD_BYTES: String(LIMIT) });
    cleanups.push(() => state.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`), () => deleteSearchIndices(`sluice-${ledgerName}`));
    const store = new DatasetStore(state.pool);
    for (const [name, postgres] of [[pgName, true], [ledgerName, false]] as const) await store.create(spec(name, postgres).spec, schema);
    const topicOf = (name: string): string => `${config.topicPrefix}${name}`;
    await createTopics(config, [topicOf(pgName), topicOf(ledgerName), config.dlqTopic]);
    const producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'eo-kafka' });
    cleanups.push(() => producer.close());
    const running: RunningConsumer[] = [];
    cleanups.push(() => Promise.all(running.map((c) => c.stop())));
    const consume = async (overrides: Partial<typeof config>): Promise<RunningConsumer> => {
      const consumer = await startConsumer({ ...config, ...overrides }, createLogger('eo-kafka', { level: 'warn' }));
      running.push(consumer);
      return consumer;
    };

    const all = new Map([pgName, ledgerName].map((name) => [name, records(name)]));
    // Every 60th record is too big for the first consumer: dead-lettered, not folded.
    const sent = (name: string): Envelope[] =>
      all.get(name)!.map((e, i) => (i % 60 === 7 ? { ...e, payload: { ...(e.payload as object), pad: 'x'.repeat(LIMIT) } } : e));
    // Every record sent twice (an agent re-sending what it was not sure had landed), in two passes.
    for (let pass = 0; pass < 2; pass++) {
      for (const name of all.keys()) await producer.send(sent(name).map((e) => envelopeMessage(topicOf(name), e)));
    }
    const first = await consume({});
    const dlqIds = async (): Promise<string[]> => (await state.pool.query<{ id: string }>('SELECT id FROM dlq WHERE topic = ANY($1) ORDER BY id', [[...all.keys()].map(topicOf)])).rows.map((r) => r.id);
    await waitFor('the rows but the dead ones', () => countRows(state.pool, `${config.dataSchema}.${pgName}`), (n) => n === 590, 90_000);
    await waitFor('the documents but the dead ones', () => searchCount(`sluice-${ledgerName}`).catch(() => 0), (n) => n === 590, 90_000);
    // Ten dead records per dataset, each twice.
    await waitFor('the DLQ entries', dlqIds, (ids) => ids.length === 40, 30_000);
    const versions = await Promise.all([pgName, ledgerName].map(async (name) => (await store.latest(name))!));
    const folded = async (): Promise<number[]> => (await Promise.all(versions.map(windows))).map((w) => w.reduce((n, x) => n + x.count, 0));
    await waitFor('the panes but the dead ones', folded, (n) => n.every((x) => x === 590), 30_000);
    await first.stop();
    running.splice(running.indexOf(first), 1);

    // The limit raised, every entry redriven; two of them by mistake once more (forced), after they were stored.
    await consume({ maxRecordBytes: 1024 * 1024 });
    const by = { kind: 'apiKey', id: 'bootstrap-admin', name: 'bootstrap admin', role: 'admin' } as const;
    const deps = { pool: state.pool, produceOne: (message: Parameters<KafkaProducer['sendOne']>[0]) => producer.sendOne(message) };
    const entries = await dlqIds();
    for (const entry of entries) await replayEntry(deps, { id: entry, by, force: false });
    await waitFor('every row', () => countRows(state.pool, `${config.dataSchema}.${pgName}`), (n) => n === 600, 60_000);
    await waitFor('every document', () => searchCount(`sluice-${ledgerName}`), (n) => n === 600, 60_000);
    for (const entry of [entries[0]!, entries.at(-1)!]) await replayEntry(deps, { id: entry, by, force: true });

    // A re-poll of everything: another group reads both topics from the start (a consumer that lost its commits).
    const again = `${config.groupId}-again`;
    await consume({ groupId: again, maxRecordBytes: 1024 * 1024 });
    const lag = new KafkaConsumer({ brokers: stackEnv.kafkaBrokers, clientId: 'eo-kafka-lag', groupId: again, topics: [] });
    cleanups.push(() => lag.close());
    const produced = 2 * all.size * 600 + entries.length + 2;
    await waitFor(
      'the second group through both topics',
      async () => (await lag.lag([topicOf(pgName), topicOf(ledgerName)])).reduce((s, p) => ({ committed: s.committed + p.committed, lag: s.lag + p.lag }), { committed: 0n, lag: 0n }),
      (s) => s.committed === BigInt(produced) && s.lag === 0n,
      90_000,
    );
    // And the first group consumed the forced replays too.
    await waitFor('the first group through both topics', async () => {
      const firstGroup = new KafkaConsumer({ brokers: stackEnv.kafkaBrokers, clientId: 'eo-kafka-lag1', groupId: config.groupId, topics: [] });
      try {
        return (await firstGroup.lag([topicOf(pgName), topicOf(ledgerName)])).reduce((n, p) => n + p.lag, 0n);
      } finally {
        await firstGroup.close();
      }
    }, (n) => n === 0n, 60_000);

    for (const ds of versions) await expectMatchesReference(ds, all.get(ds.spec.name)!);
    expect(await countRows(state.pool, `${config.dataSchema}.${pgName}`)).toBe(600);
    const ledgered = await state.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM analytics_seen_ids WHERE dataset = $1', [ledgerName]);
    expect(ledgered.rows[0]!.n).toBe(600);
  }, 300_000);
});
