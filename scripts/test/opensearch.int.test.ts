import { Client } from '@opensearch-project/opensearch';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { uniqueName } from './support/stack-control.ts';

const env = loadStackEnv();

describe('opensearch', () => {
  const index = uniqueName('smoke-search');
  const client = new Client({ node: env.searchUrl });

  afterAll(async () => {
    await client.indices.delete({ index }).catch(() => undefined);
    await client.close();
  });

  it('bulk-indexes documents and finds one by a term', async () => {
    const docs = [
      { id: 'a', dataset: 'smoke', message: 'the sluice gate opens' },
      { id: 'b', dataset: 'smoke', message: 'water flows downstream' },
    ];
    const bulk = await client.bulk({
      refresh: true,
      body: docs.flatMap(({ id, ...doc }) => [{ index: { _index: index, _id: id } }, doc]),
    });
    expect(bulk.body.errors).toBe(false);

    const result = await client.search({ index, body: { query: { match: { message: 'gate' } } } });
    const hits = result.body.hits.hits;
    expect(hits.map((hit) => hit._id)).toEqual(['a']);
  });
});
