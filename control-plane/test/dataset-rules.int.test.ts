/* eslint-disable @typescript-eslint/no-unsafe-assignment -- vitest's asymmetric matchers (expect.stringContaining) are typed any */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { testServer } from './support/test-server.ts';
import { freshState, suffix } from './support/state.ts';

let app: FastifyInstance;
let baseUrl: string;
let state: Awaited<ReturnType<typeof freshState>>;
/** What ingest produced; Kafka itself is not what these tests are about. */
const produced: OutgoingMessage[] = [];
const adminKey = 'bootstrap-admin-key-for-dataset-rules-0123456789';
const headers = { authorization: `Bearer ${adminKey}` };
/** Dataset names of this run: the state schema is the test's own, but search and object names are shared. */
const id = suffix().replace(/[^a-z0-9]/g, '');
const name = (what: string): string => `${what}_${id}`;

beforeAll(async () => {
  state = await freshState();
  await new ApiKeyStore(state.pool).bootstrapAdmin(adminKey);
  app = (await testServer(state.pool, {
    datasets: new DatasetStore(state.pool),
    apiKeys: new ApiKeyStore(state.pool),
    produce: (messages) => {
      produced.push(...messages);
      return Promise.resolve();
    },
    produceOne: (message) => {
      produced.push(message);
      return Promise.resolve({ topic: message.topic, partition: 0, offset: BigInt(produced.length - 1) });
    },
    kafka: { ping: () => Promise.resolve(), lag: () => Promise.resolve([]) },
    topicPrefix: `sluicetest${id}.`,
    maxRecordBytes: 1024 * 1024,
    bodyLimitBytes: 4 * 1024 * 1024,
  })).app;
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await state?.drop();
});

const schema = { type: 'object', properties: { device: { type: 'string' } } };

/** The answers these tests read; the assertions are what check their shape. */
interface Answer {
  error: { name: string; message: string; details?: Array<{ path: string; message: string }> };
  items: Array<{ status: string; reason?: string }>;
}

async function publish(body: Record<string, unknown>): Promise<{ status: number; body: Answer }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/datasets', headers, payload: { schema, ...body } });
  return { status: res.statusCode, body: res.json<Answer>() };
}

describe('dataset publish: names that become keys, tables and indices', () => {
  it('refuses "." and ".." segments and empty segments in an object prefix (400), and the blob area', async () => {
    for (const prefix of ['a/../../x', 'a/./b', 'a/..', 'a//b']) {
      const res = await publish({ name: name('dots'), sinks: { objectStore: { enabled: true, prefix } } });
      expect([prefix, res.status]).toEqual([prefix, 400]);
      expect(res.body.error.name).toBe('InputError');
      expect(res.body.error.message).toContain('sinks.objectStore.prefix');
    }
    const blobs = await publish({ name: name('b'), sinks: { objectStore: { enabled: true, prefix: 'blobs/mine' } } });
    expect(blobs.status).toBe(400);
    expect(blobs.body.error.message).toContain('reserved');
    // Dots inside a segment are an ordinary name.
    expect((await publish({ name: name('dotted'), sinks: { objectStore: { enabled: true, prefix: `v1.2/${id}..x/` } } })).status).toBe(201);
  });
});

describe('dataset publish: each store location belongs to one dataset', () => {
  it('refuses a table, index prefix or object prefix another dataset owns (409, naming the owner)', async () => {
    const owner = name('owner');
    const created = await publish({
      name: owner,
      sinks: { postgres: { enabled: true }, search: { enabled: true }, objectStore: { enabled: true, prefix: `lake${id}/raw` } },
    });
    expect(created.status).toBe(201);

    const claims: Array<[string, Record<string, unknown>]> = [
      ["the owner's table (its default name)", { postgres: { enabled: true, table: owner } }],
      ["the owner's default index prefix", { search: { enabled: true, index: `sluice-${owner}` } }],
      ['an index prefix the owner reads with sluice-<owner>-*', { search: { enabled: true, index: `sluice-${owner}-eu` } }],
      ['a sub-folder of the object prefix', { objectStore: { enabled: true, prefix: `lake${id}/raw/more` } }],
      ['a parent folder of the object prefix', { objectStore: { enabled: true, prefix: `lake${id}/` } }],
    ];
    for (const [what, sinks] of claims) {
      const res = await publish({ name: name('intruder'), sinks });
      expect([what, res.status]).toEqual([what, 409]);
      expect(res.body.error.name).toBe('ConflictError');
      expect(res.body.error.message).toContain(`of dataset ${owner}`);
    }
    // Nothing of the refused publishes was stored.
    expect((await app.inject({ method: 'GET', url: `/api/v1/datasets/${name('intruder')}`, headers })).statusCode).toBe(404);

    // Neighbours that only share characters, not a boundary, are free; so is a disabled sink's default.
    const neighbour = await publish({
      name: name('neighbour'),
      sinks: { postgres: { enabled: true, table: `${owner}x` }, search: { enabled: true, index: `sluice-${owner}x` }, objectStore: { enabled: true, prefix: `lake${id}/rawer` } },
    });
    expect(neighbour.status).toBe(201);
  });

  it('lets exactly one of many concurrent publishes claim the same location', async () => {
    const prefix = `race${id}/p`;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => publish({ name: name(`racer${i}`), sinks: { objectStore: { enabled: true, prefix } } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const listed = (await app.inject({ method: 'GET', url: '/api/v1/datasets', headers })).json<{ items: Array<{ spec: { sinks: { objectStore?: { prefix?: string } } } }> }>().items;
    expect(listed.filter((d) => d.spec.sinks.objectStore?.prefix === prefix)).toHaveLength(1);
  });
});

/** Polls /healthz over real HTTP while `work` runs; the longest wait for an answer, in ms. */
async function longestHealthzWait<T>(work: () => Promise<T>): Promise<{ result: T; longestMs: number }> {
  let running = true;
  let longestMs = 0;
  const poller = (async () => {
    while (running) {
      const started = performance.now();
      const res = await fetch(`${baseUrl}/healthz`, { headers });
      await res.arrayBuffer();
      longestMs = Math.max(longestMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  try {
    const result = await work();
    return { result, longestMs };
  } finally {
    running = false;
    await poller;
  }
}

describe('dataset schemas: regular expressions cannot stall the control plane', () => {
  it('validates a catastrophic-backtracking pattern in linear time while /healthz keeps answering', async () => {
    const dataset = name('redos');
    const hostileSchema = {
      type: 'object',
      properties: { code: { type: 'string', pattern: '^(a+)+$' } },
      patternProperties: { '^(x+x+)+y$': { type: 'string' } },
    };
    expect((await publish({ name: dataset, sinks: { postgres: { enabled: true } }, schema: hostileSchema })).status).toBe(201);
    // A backtracking engine needs about 2^n steps: 27 characters took ~9 s, each one more doubles it. (Kept
    // that small so a regression fails this test in seconds instead of hanging it; linear time on long
    // input is shown in validators.test.ts.)
    const hostile = [{ code: `${'a'.repeat(27)}!` }, { code: 'a'.repeat(100_000) }, { [`${'x'.repeat(18)}!`]: 'the key is the hostile part' }, { code: 'aaa' }];
    const { result, longestMs } = await longestHealthzWait(async () => {
      const started = performance.now();
      const res = await fetch(`${baseUrl}/api/v1/ingest/${dataset}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(hostile) });
      return { status: res.status, body: (await res.json()) as Answer, ms: performance.now() - started };
    });
    expect(result.status).toBe(200);
    expect(result.body.items.map((i) => i.status)).toEqual(['rejected', 'accepted', 'accepted', 'accepted']);
    expect(result.body.items[0]?.reason).toContain('must match pattern');
    expect(result.ms).toBeLessThan(1_000);
    expect(longestMs).toBeLessThan(1_000);
  });

  it('refuses a record whose validation would exceed its budget, within a bound, while /healthz keeps answering', async () => {
    const dataset = name('exponential');
    // Each nesting level doubles the work; 1 000 branches 15 deep is about 65 million evaluations (~10 s).
    const exponential = { $ref: '#/$defs/n', $defs: { n: { type: 'array', items: { oneOf: [{ $ref: '#/$defs/n' }, { $ref: '#/$defs/n' }] } } } };
    expect((await publish({ name: dataset, sinks: { postgres: { enabled: true } }, schema: exponential })).status).toBe(201);
    const branch = JSON.parse(`${'['.repeat(15)}${']'.repeat(15)}`) as unknown;
    const { result, longestMs } = await longestHealthzWait(async () => {
      const started = performance.now();
      const res = await fetch(`${baseUrl}/api/v1/ingest/${dataset}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify([Array.from({ length: 1_000 }, () => branch), []]) });
      return { body: (await res.json()) as Answer, ms: performance.now() - started };
    });
    expect(result.body.items[0]).toMatchObject({ status: 'rejected', reason: expect.stringContaining('the budget of one record') });
    expect(result.body.items[1]).toMatchObject({ status: 'accepted' });
    expect(result.ms).toBeLessThan(1_500);
    expect(longestMs).toBeLessThan(1_500);
  });

  it('refuses a pattern RE2 cannot run with 400 naming its schema path', async () => {
    const backreference = await publish({ name: name('backref'), sinks: {}, schema: { type: 'object', properties: { code: { type: 'string', pattern: '^(a)\\1$' } } } });
    expect(backreference.status).toBe(400);
    expect(backreference.body.error.message).toContain('/properties/code/pattern');
    expect(backreference.body.error.details).toEqual([{ path: '/properties/code/pattern', message: expect.stringContaining('RE2') }]);

    const lookahead = await publish({
      name: name('lookahead'),
      sinks: {},
      schema: { type: 'object', items: { patternProperties: { '^(?!tmp)': {} } }, $defs: { id: { type: 'string', pattern: 'a(?<=b)' } } },
    });
    expect(lookahead.status).toBe(400);
    expect(lookahead.body.error.details?.map((d) => d.path)).toEqual(['/$defs/id/pattern', '/items/patternProperties/^(?!tmp)']);
    expect((await app.inject({ method: 'GET', url: `/api/v1/datasets/${name('backref')}`, headers })).statusCode).toBe(404);
  });
});
