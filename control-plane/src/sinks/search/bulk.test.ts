import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { batch, dataset, envelope } from '../../../test/support/sink-fixtures.ts';
import { bulkBodies, bulkItem, classifyBulkResponse, classifyItem } from './bulk.ts';
import { dailyIndex, fieldMapping, indexTemplate } from './index-template.ts';
import { SearchSink } from './search-sink.ts';

describe('index naming and template', () => {
  it('names the daily index by the UTC day of the event time', () => {
    expect(dailyIndex('sluice-orders', '2026-03-01T23:30:00-02:00')).toBe('sluice-orders-2026.03.02');
    expect(dailyIndex('p', 'not a date')).toBeUndefined();
  });
  it('maps JSON Schema types to engine field types', () => {
    expect(fieldMapping({ type: 'string', format: 'date-time' })).toEqual({ type: 'date' });
    expect(fieldMapping({ type: 'string' })).toMatchObject({ type: 'keyword', fields: { text: { type: 'text' } } });
    expect(fieldMapping({ type: ['integer', 'null'] })).toEqual({ type: 'long' });
    expect(fieldMapping({ type: 'number' })).toEqual({ type: 'double' });
    expect(fieldMapping({ type: 'boolean' })).toEqual({ type: 'boolean' });
    expect(fieldMapping({ type: 'array', items: { type: 'integer' } })).toEqual({ type: 'long' });
    expect(fieldMapping({ type: 'object', properties: { a: { type: 'boolean' } } })).toEqual({ type: 'object', properties: { a: { type: 'boolean' } } });
    expect(fieldMapping({ type: ['string', 'integer'] })).toBeUndefined();
  });
  it('builds a template for <prefix>-* with envelope fields and a priority by specificity', () => {
    const ds = dataset('orders', { type: 'object', properties: { n: { type: 'integer' } } }, 3);
    const t = indexTemplate(ds, { replicas: 0 }) as { index_patterns: string[]; priority: number; template: { mappings: { properties: Record<string, unknown> } } };
    expect(t.index_patterns).toEqual(['sluice-orders-*']);
    expect(t.priority).toBe(100 + 'sluice-orders'.length);
    expect(t.template.mappings.properties['@timestamp']).toEqual({ type: 'date' });
    expect(t.template.mappings.properties.payload).toMatchObject({ properties: { n: { type: 'long' } } });
  });
});

describe('bulk request and response', () => {
  const ds = dataset('orders', {});
  const items = [0, 1, 2].map((i) => bulkItem(envelope('orders', `id-${i}`, { i }), 'sluice-orders-2026.03.01'));

  it('writes index actions with _id = record id', () => {
    const [action, doc] = items[0]!.lines.trimEnd().split('\n');
    expect(JSON.parse(action!)).toEqual({ index: { _index: 'sluice-orders-2026.03.01', _id: 'id-0' } });
    expect(JSON.parse(doc!)).toMatchObject({ '@timestamp': '2026-03-01T10:15:00.000Z', id: 'id-0', payload: { i: 0 } });
    expect(ds.spec.name).toBe('orders');
  });
  it('splits bodies by size', () => {
    const size = Buffer.byteLength(items[0]!.lines);
    expect(bulkBodies(items, size * 2).map((b) => b.length)).toEqual([2, 1]);
    expect(bulkBodies(items, 1).map((b) => b.length)).toEqual([1, 1, 1]);
  });
  it('classifies items: pushed back and 5xx retried, mapping errors rejected, success ok', () => {
    expect(classifyItem({ status: 201 })).toEqual({ kind: 'ok' });
    expect(classifyItem({ status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } }).kind).toBe('retry');
    expect(classifyItem({ status: 500, error: { type: 'rejected_execution_exception', reason: 'x' } }).kind).toBe('retry');
    expect(classifyItem({ status: 503, error: { type: 'unavailable_shards_exception', reason: 'x' } }).kind).toBe('retry');
    const mapping = classifyItem({ status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [payload.at]', caused_by: { type: 'illegal_argument_exception', reason: 'bad date' } } });
    expect(mapping).toEqual({ kind: 'reject', reason: 'mapper_parsing_exception: failed to parse field [payload.at] (caused by illegal_argument_exception: bad date)' });
    expect(classifyItem({ status: 400, error: { type: 'document_parsing_exception', reason: 'x' } }).kind).toBe('reject');
  });
  it('classifies a whole response item by item', () => {
    const response = {
      errors: true,
      items: [
        { index: { status: 200 } },
        { index: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'busy' } } },
        { index: { status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad' } } },
      ],
    };
    const c = classifyBulkResponse(items, response);
    expect(c.retry.map((i) => i.id)).toEqual(['id-1']);
    expect(c.rejected).toEqual([{ id: 'id-2', reason: 'search: sluice-orders-2026.03.01: mapper_parsing_exception: bad' }]);
    expect(classifyBulkResponse(items, { errors: false, items: [] })).toEqual({ retry: [], rejected: [] });
  });
});

describe('SearchSink retrying pushed-back items (HTTP stub standing in for a saturated node)', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function stub(onBulk: (ids: string[]) => unknown): Promise<string> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/_bulk') {
          const ids = body.trim().split('\n').filter((_, i) => i % 2 === 0).map((l) => (JSON.parse(l) as { index: { _id: string } }).index._id);
          res.end(JSON.stringify(onBulk(ids)));
        } else if (req.url?.includes('_mapping')) {
          res.statusCode = 404;
          res.end('{}');
        } else res.end(JSON.stringify({ version: { number: '8.19.0' } }));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('resends only the items answered 429 until they succeed', async () => {
    const sent: string[][] = [];
    const url = await stub((ids) => {
      sent.push(ids);
      return { errors: true, items: ids.map((id) => ({ index: id === 'b' && sent.length < 3 ? { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'busy' } } : { status: 201 } })) };
    });
    const sink = new SearchSink({ url, itemRetry: { minDelayMs: 1, maxDelayMs: 2 } });
    const ds = dataset('orders', {});
    const result = await sink.write(batch(ds, [envelope('orders', 'a', {}), envelope('orders', 'b', {}), envelope('orders', 'c', {})]));
    expect(result).toEqual({ kind: 'ok', rejected: [] });
    expect(sent).toEqual([['a', 'b', 'c'], ['b'], ['b']]);
  });

  it('reports retryable when items keep being pushed back', async () => {
    const url = await stub((ids) => ({ errors: true, items: ids.map(() => ({ index: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'busy' } } })) }));
    const sink = new SearchSink({ url, itemRetry: { retries: 2, minDelayMs: 1, maxDelayMs: 2 } });
    const result = await sink.write(batch(dataset('orders', {}), [envelope('orders', 'a', {})]));
    expect(result.kind).toBe('retryable');
  });

  it('reports retryable when nothing listens', async () => {
    const sink = new SearchSink({ url: 'http://127.0.0.1:1' });
    const result = await sink.write(batch(dataset('orders', {}), [envelope('orders', 'a', {})]));
    expect(result.kind).toBe('retryable');
  });
});
