import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { batch, envelope } from '../../test/support/sink-fixtures.ts';
import { freshState, stackEnv, suffix } from '../../test/support/state.ts';
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
