import { afterAll, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { batch, dataset, envelope, uniqueSuffix } from '../../../test/support/sink-fixtures.ts';
import { describeSinkConformance } from '../../../test/support/sink-conformance.ts';
import { loadConfig } from '../../config.ts';
import { searchSinkConfig } from '../registry.ts';
import { SearchSink } from './search-sink.ts';

const config = searchSinkConfig(loadConfig());
const sink = new SearchSink({ ...config, template: { replicas: 0 } });
const prefix = `sluice-test-${uniqueSuffix()}`;
const schema = {
  type: 'object',
  properties: { user: { type: 'string' }, n: { type: 'integer' }, at: { type: 'string', format: 'date-time' } },
};
const ds = (version = 1, s: Record<string, unknown> = schema): DatasetVersion =>
  dataset('orders', s, version, { search: { enabled: true, index: prefix } });

async function get(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${config.url}${path}`);
  return (await response.json()) as Record<string, unknown>;
}
async function count(): Promise<number> {
  await sink.refresh(ds());
  return (await get(`/${prefix}-*/_count`)).count as number;
}

afterAll(async () => {
  await sink.deleteDatasetIndices(ds());
  await sink.close();
});

describe('SearchSink against the real OpenSearch', () => {
  it('puts an index template and indexes each record once, into its daily index, however often replayed', async () => {
    expect(await sink.prepare(ds())).toEqual({ kind: 'ok' });
    const template = await get(`/_index_template/${prefix}`);
    expect(JSON.stringify(template)).toContain(`${prefix}-*`);
    const b = batch(ds(), [
      envelope('orders', 'r:1', { user: 'ann', n: 1, at: '2026-03-01T10:00:00Z' }, '2026-03-01T10:00:00Z'),
      envelope('orders', 'r:2', { user: 'bob', n: 2 }, '2026-03-02T10:00:00Z'),
    ]);
    expect(await sink.write(b)).toEqual({ kind: 'ok', rejected: [] });
    expect(await sink.write(b)).toEqual({ kind: 'ok', rejected: [] });
    expect(await count()).toBe(2);
    const doc = await get(`/${prefix}-2026.03.01/_doc/${encodeURIComponent('r:1')}`);
    expect(doc.found).toBe(true);
    expect((doc._source as { payload: { user: string } }).payload.user).toBe('ann');
    const mapping = JSON.stringify(await get(`/${prefix}-2026.03.01/_mapping`));
    expect(mapping).toContain('"n":{"type":"long"}');
    expect(mapping).toContain('"at":{"type":"date"');
    const search = await get(`/${prefix}-*/_search?q=payload.user.text:bob`);
    expect((search.hits as { total: { value: number } }).total.value).toBe(1);
  });

  it('rejects documents the mapping refuses, with the reason, and indexes the rest', async () => {
    const result = await sink.write(
      batch(ds(), [
        envelope('orders', 'm:1', { n: 'not a number' }, '2026-03-01T11:00:00Z'),
        envelope('orders', 'm:2', { at: 'not a date' }, '2026-03-01T11:00:00Z'),
        envelope('orders', 'm:3', { n: 3 }, '2026-03-01T11:00:00Z'),
      ]),
    );
    expect(result.kind).toBe('ok');
    expect(result.rejected?.map((r) => r.id)).toEqual(['m:1', 'm:2']);
    expect(result.rejected?.[0]?.reason).toMatch(/mapper_parsing_exception|document_parsing_exception/);
    expect(await count()).toBe(3);
  });

  it('maps a new optional field of a new schema version in existing indices', async () => {
    const v2 = { ...schema, properties: { ...schema.properties, score: { type: 'number' } } };
    expect(await sink.prepare(ds(2, v2))).toEqual({ kind: 'ok' });
    const mapping = JSON.stringify(await get(`/${prefix}-2026.03.01/_mapping`));
    expect(mapping).toContain('"score":{"type":"double"}');
    expect((await sink.write(batch(ds(2, v2), [envelope('orders', 'v2:1', { score: 1 }, '2026-03-01T12:00:00Z')]))).kind).toBe('ok');
  });
});

// The outage case runs through the kit's own proxy, so OpenSearch keeps serving the other tests.
describeSinkConformance('search', {
  store: { host: new URL(config.url).hostname, port: Number(new URL(config.url).port) },
  create: (via) => {
    const ownPrefix = `sluice-kit-${uniqueSuffix()}`;
    const url = new URL(config.url);
    if (via !== undefined) {
      url.hostname = via.host;
      url.port = String(via.port);
    }
    const own = new SearchSink({ ...config, url: url.origin, template: { replicas: 0 } });
    const kit = dataset('kit', { type: 'object', properties: { n: { type: 'integer' }, text: { type: 'string' } } }, 1, { search: { enabled: true, index: ownPrefix } });
    // Straight to the engine, whatever state the sink under test is in.
    const direct = new SearchSink({ ...config, template: { replicas: 0 } });
    return Promise.resolve({
      sink: own,
      dataset: kit,
      storedIds: async () => {
        await direct.refresh(kit);
        const response = await fetch(`${config.url}/${ownPrefix}-*/_search?size=1000&_source=false`);
        const body = (await response.json()) as { hits: { hits: Array<{ _id: string }> } };
        return body.hits.hits.map((hit) => hit._id).sort();
      },
      // The template maps `n` as a long: a word is refused by the mapping.
      refused: (id) => envelope('kit', id, { n: 'not a number', text: 'refused' }),
      cleanup: () => direct.deleteDatasetIndices(kit),
    });
  },
});
