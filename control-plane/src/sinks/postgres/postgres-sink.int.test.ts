import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batch, dataset, envelope, uniqueSuffix } from '../../../test/support/sink-fixtures.ts';
import { describeSinkConformance } from '../../../test/support/sink-conformance.ts';
import { loadConfig } from '../../config.ts';
import { postgresSinkConfig } from '../registry.ts';
import { PostgresSink } from './postgres-sink.ts';

const { connectionString } = postgresSinkConfig(loadConfig());
const schemaName = `sink_test_${uniqueSuffix()}`;
const admin = new pg.Pool({ connectionString, max: 2 });
admin.on('error', () => undefined);
let sink: PostgresSink;

const v1 = {
  type: 'object',
  properties: {
    user: { type: 'string' },
    amount: { type: 'number' },
    count: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    ok: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    'odd-name': { type: 'string' },
  },
};

beforeAll(() => {
  sink = new PostgresSink({ connectionString, schema: schemaName, poolSize: 2 });
});
afterAll(async () => {
  await sink.close();
  await admin.query(`DROP SCHEMA IF EXISTS "${schemaName}" CASCADE`);
  await admin.end();
});

async function rows(table: string): Promise<Array<Record<string, unknown>>> {
  return (await admin.query<Record<string, unknown>>(`SELECT * FROM "${schemaName}"."${table}" ORDER BY id`)).rows;
}

describe('PostgresSink against the real PostgreSQL', () => {
  it('creates a typed table and writes a batch once however often it is replayed', async () => {
    const ds = dataset('orders', v1);
    expect(await sink.prepare(ds)).toEqual({ kind: 'ok' });
    const tricky = 'tab\there\nnewline \\ backslash "quote" \u00e9';
    const b = batch(ds, [
      envelope('orders', 'a:1', { user: tricky, amount: 1.5, count: 3, at: '2026-03-01T10:00:00Z', ok: true, tags: ['x'], 'odd-name': 'o' }),
      envelope('orders', 'a:2', { user: 'bob' }),
      envelope('orders', 'a:2', { user: 'bob' }),
    ]);
    expect(await sink.write(b)).toEqual({ kind: 'ok', rejected: [] });
    expect(await sink.write(b)).toEqual({ kind: 'ok', rejected: [] });
    const stored = await rows('orders');
    expect(stored.map((r) => r.id)).toEqual(['a:1', 'a:2']);
    const first = stored[0]!;
    expect(first.user).toBe(tricky);
    expect(first.amount).toBe(1.5);
    expect(first.count).toBe('3'); // bigint comes back as a string from node-postgres
    expect((first.at as Date).toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(first.ok).toBe(true);
    expect(first.tags).toEqual(['x']);
    expect((first.payload as { user: string }).user).toBe(tricky);
    expect((first.event_time as Date).toISOString()).toBe('2026-03-01T10:15:00.000Z');
    expect(first.agent_id).toBe('agent-1');
    const oddColumn = Object.keys(first).find((k) => k.startsWith('odd_name_'));
    expect(oddColumn && first[oddColumn]).toBe('o');
    const idx = await admin.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'orders'`, [schemaName]);
    expect(idx.rows.map((r: { indexname: string }) => r.indexname)).toContain('orders_event_time_idx');
  });

  it('stores the same values whether a batch takes the direct COPY or the staged INSERT path', async () => {
    const ds = dataset('paths', v1);
    const payload = { user: 'a\tb', amount: 0.1, count: 2 ** 40, at: '2026-03-01T10:00:00+02:00', ok: false, tags: [{ x: null }], 'odd-name': '\\N' };
    const before = { ...sink.batchesByPath };
    expect(await sink.write(batch(ds, [envelope('paths', 'direct', payload)]))).toEqual({ kind: 'ok', rejected: [] });
    expect(sink.batchesByPath.direct).toBe(before.direct + 1);
    // 'direct' already exists, so this COPY fails and the staged path writes 'staged'.
    expect(await sink.write(batch(ds, [envelope('paths', 'direct', payload), envelope('paths', 'staged', payload)]))).toEqual({ kind: 'ok', rejected: [] });
    expect(sink.batchesByPath.staged).toBe(before.staged + 1);
    const [a, b] = await rows('paths');
    expect(a!.id).toBe('direct');
    expect({ ...b, id: 'direct' }).toEqual(a);
  });

  it('stores the instants PostgreSQL itself reads from the text, whichever path a batch takes', async () => {
    const ds = dataset('instants', { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, x: { type: 'number' } } });
    const strict = ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00.5+15:59', '1999-12-31T23:59:59.999999-15:59', '0001-01-01T00:00:00Z', '2024-02-29T12:34:56.123456+05:30', '1969-07-20T20:17:40.1-04:00'];
    const other = ['2026-03-01 10:00:00+01', '2026-03-01T10:00:00.1234565Z', '2026-12-31T23:59:60Z', '2026-03-01t10:00:00z'];
    const before = { ...sink.batchesByPath };
    const write = async (texts: readonly string[], prefix: string): Promise<void> => {
      const envelopes = texts.map((t, i) => envelope('instants', `${prefix}:${i}`, { at: t, x: -0 }, t));
      expect(await sink.write(batch(ds, envelopes))).toEqual({ kind: 'ok', rejected: [] });
    };
    await write(strict, 'strict');
    expect(sink.batchesByPath.direct).toBe(before.direct + 1);
    await write(other, 'other');
    expect(sink.batchesByPath.staged).toBe(before.staged + 1);
    const differing = await admin.query(
      `SELECT id FROM "${schemaName}".instants WHERE event_time IS DISTINCT FROM (payload->>'at')::timestamptz OR at IS DISTINCT FROM (payload->>'at')::timestamptz OR x::text <> '0'`,
    );
    expect(differing.rows).toEqual([]);
    expect(await rows('instants')).toHaveLength(strict.length + other.length);
  });

  it('adds a column for a new optional field in a new schema version and never drops one', async () => {
    const v2 = { ...v1, properties: { ...v1.properties, region: { type: 'string' } } };
    const ds2 = dataset('orders', v2, 2);
    expect(await sink.prepare(ds2)).toEqual({ kind: 'ok' });
    expect((await sink.write(batch(ds2, [envelope('orders', 'b:1', { user: 'carol', region: 'eu' })], 10n))).kind).toBe('ok');
    const stored = await rows('orders');
    expect(stored.find((r) => r.id === 'b:1')?.region).toBe('eu');
    expect(stored.find((r) => r.id === 'a:2')?.region).toBeNull();
    // v1 again (an old producer): nothing is dropped, its rows still land.
    expect((await sink.write(batch(dataset('orders', v1), [envelope('orders', 'c:1', { user: 'dan' })], 20n))).kind).toBe('ok');
    expect(Object.keys((await rows('orders'))[0]!)).toContain('region');
  });

  it('isolates rows PostgreSQL refuses, returns them with the reason and writes the rest', async () => {
    const ds = dataset('events', { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, n: { type: 'integer' } } });
    const envelopes = Array.from({ length: 40 }, (_, i) => envelope('events', `e:${i}`, { at: '2026-03-01T00:00:00Z', n: i }));
    envelopes[7] = envelope('events', 'e:7', { at: 'not a date', n: 7 });
    envelopes[30] = envelope('events', 'e:30', { at: '2026-03-01T00:00:00Z', n: 1e30 });
    envelopes[31] = envelope('events', 'e:31', { text: 'nul \u0000 inside' });
    const result = await sink.write(batch(ds, envelopes));
    expect(result.kind).toBe('ok');
    const rejected = new Map((result.rejected ?? []).map((r) => [r.id, r.reason]));
    expect([...rejected.keys()].sort()).toEqual(['e:30', 'e:31', 'e:7']);
    expect(rejected.get('e:7')).toMatch(/timestamp|time zone|date/i);
    expect(rejected.get('e:30')).toMatch(/out of range|bigint/i);
    expect(rejected.get('e:31')).toMatch(/\\u0000|unicode/i);
    const stored = await rows('events');
    expect(stored).toHaveLength(37);
  });

  it('prepares the table again when it was dropped behind its back', async () => {
    const ds = dataset('dropped', { type: 'object', properties: { n: { type: 'integer' } } });
    expect((await sink.write(batch(ds, [envelope('dropped', 'd:1', { n: 1 })]))).kind).toBe('ok');
    await admin.query(`DROP TABLE "${schemaName}".dropped`);
    expect((await sink.write(batch(ds, [envelope('dropped', 'd:2', { n: 2 })]))).kind).toBe('retryable');
    expect((await sink.write(batch(ds, [envelope('dropped', 'd:2', { n: 2 })]))).kind).toBe('ok');
    expect((await rows('dropped')).map((r) => r.id)).toEqual(['d:2']);
  });
});

// The outage case runs through the kit's own proxy, so PostgreSQL keeps serving the other tests.
describeSinkConformance('postgres', {
  store: { host: new URL(connectionString).hostname, port: Number(new URL(connectionString).port) },
  create: (via) => {
    const schema = `sink_kit_${uniqueSuffix()}`;
    const url = new URL(connectionString);
    if (via !== undefined) {
      url.hostname = via.host;
      url.port = String(via.port);
    }
    const own = new PostgresSink({ connectionString: url.toString(), schema, poolSize: 2 });
    const ds = dataset('kit', { type: 'object', properties: { n: { type: 'integer' }, text: { type: 'string' } } });
    return Promise.resolve({
      sink: own,
      dataset: ds,
      storedIds: async () => (await admin.query<{ id: string }>(`SELECT id FROM "${schema}".kit`)).rows.map((r) => r.id).sort(),
      // A bigint column cannot hold 1e30.
      refused: (id) => envelope('kit', id, { n: 1e30, text: 'too big' }),
      cleanup: async () => {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    });
  },
});
