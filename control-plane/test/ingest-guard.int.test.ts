/* eslint-disable @typescript-eslint/no-unsafe-assignment -- expect.stringMatching() is typed any; the assertions are what check the shape */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { KafkaProducer, type OutgoingMessage } from '@sluice/shared/node/kafka';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { CONTENT_TYPES, envelopeHeaders, type Envelope } from '@sluice/shared/envelope';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { INGEST_AGENT_ID } from '../src/http/routes/ingest.ts';
import { testServer } from './support/test-server.ts';
import { freshState, stackEnv, suffix } from './support/state.ts';

let app: FastifyInstance;
let state: Awaited<ReturnType<typeof freshState>>;
let producer: KafkaProducer;
const produced: OutgoingMessage[] = [];
const adminKey = 'bootstrap-admin-key-for-guard-tests-0123456789';
const prefix = testTopicPrefix(`guard${suffix()}`);
const dataset = `guard_${suffix()}`;
const keyedDataset = `guard_keyed_${suffix()}`;

beforeAll(async () => {
  state = await freshState();
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(adminKey);
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'ingest-guard-test' });
  app = (await testServer(state.pool, {
    datasets: new DatasetStore(state.pool),
    apiKeys,
    // Really produced (the route's answer waits for Kafka's acks); kept here too, to look at what went out.
    produce: async (m) => {
      await producer.send(m);
      produced.push(...m);
    },
    produceOne: () => Promise.reject(new Error('not used')),
    topicPrefix: prefix,
    maxRecordBytes: 4096,
    bodyLimitBytes: 256 * 1024,
  })).app;
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/datasets',
    headers: { authorization: `Bearer ${adminKey}` },
    payload: { name: dataset, sinks: { postgres: { enabled: true } }, schema: { type: 'object' } },
  });
  expect(created.statusCode).toBe(201);
  const keyed = await app.inject({
    method: 'POST',
    url: '/api/v1/datasets',
    headers: { authorization: `Bearer ${adminKey}` },
    payload: { name: keyedDataset, partitionKey: 'device', sinks: { postgres: { enabled: true } }, schema: { type: 'object' } },
  });
  expect(keyed.statusCode).toBe(201);
});

afterAll(async () => {
  await app?.close();
  await producer?.close();
  await state?.drop();
});

interface IngestAnswer {
  items: Array<{ index: number; status: string; reason?: string }>;
  [field: string]: unknown;
}

async function ingest(bytes: Buffer, contentType = 'application/json', key = `k-${suffix()}`): Promise<{ status: number; body: IngestAnswer; payloads: unknown[] }> {
  produced.length = 0;
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/ingest/${dataset}`,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': contentType, 'idempotency-key': key },
    payload: bytes,
  });
  const body = JSON.parse(res.body) as IngestAnswer;
  return { status: res.statusCode, body, payloads: produced.map((m) => (JSON.parse(m.value.toString()) as Envelope).payload) };
}

const reasons = (answer: IngestAnswer): string[] => answer.items.map((i) => i.reason ?? i.status);
const deep = '['.repeat(5000) + ']'.repeat(5000);

describe('ingest API: bad items refused at the door, each with its reason, the rest accepted', () => {
  it('a 5,000-deep item is rejected (not a 500), its neighbours accepted', async () => {
    const res = await ingest(Buffer.from(`[{"n":1},${deep},{"n":2}]`));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ errors: true, accepted: 2, rejected: 1 });
    expect(res.body.items[1]).toEqual({ index: 1, status: 'rejected', reason: 'item 1 is nested more than 16 levels deep' });
    expect(res.payloads).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('invalid UTF-8 is refused per item, never stored with replacement characters (JSON and NDJSON)', async () => {
    const json = await ingest(Buffer.concat([Buffer.from('[{"s":"caf'), Buffer.from([0xe9]), Buffer.from('"},{"s":"café"}]')]));
    expect(json.status).toBe(200);
    expect(json.body.items[0]).toEqual({ index: 0, status: 'rejected', reason: expect.stringMatching(/^item 0 is not valid UTF-8/) });
    expect(json.payloads).toEqual([{ s: 'café' }]);

    const nd = await ingest(Buffer.concat([Buffer.from('{"s":"ok"}\n{"s":"'), Buffer.from([0xff]), Buffer.from('"}\n')]), 'application/x-ndjson');
    expect(nd.body.items[1]).toEqual({ index: 1, status: 'rejected', reason: expect.stringMatching(/^line 2 is not valid UTF-8/) });
    expect(nd.payloads).toEqual([{ s: 'ok' }]);
  });

  it('numbers are never altered: 1e400 and integers beyond 2^53 are refused, exact ones kept', async () => {
    const res = await ingest(Buffer.from('[{"n":1e400},{"n":9007199254740993},{"n":9007199254740991},{"n":0.1}]'));
    expect(reasons(res.body)).toEqual([
      'item 0: payload.n: not a finite number',
      expect.stringMatching(/^item 1: payload\.n: number 9007199254740992 is beyond ±9007199254740991/),
      'accepted',
      'accepted',
    ]);
    expect(res.payloads).toEqual([{ n: 9007199254740991 }, { n: 0.1 }]);
  });

  it('NUL characters and too many fields are refused at the door; an oversize record too', async () => {
    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`c${i}`, 1]));
    const res = await ingest(Buffer.from(JSON.stringify([{ s: 'a\u0000b' }, wide, { s: 'x'.repeat(5000) }, { s: 'fine' }])));
    expect(reasons(res.body)).toEqual([
      expect.stringMatching(/^item 0: payload\.s: contains a NUL character/),
      expect.stringMatching(/^item 1: has more than 400 distinct fields/),
      expect.stringMatching(/^record is \d+ bytes, larger than the limit of 4096 bytes$/),
      'accepted',
    ]);
    expect(res.payloads).toEqual([{ s: 'fine' }]);
  });

  it('a body that is not JSON at all, or not an array, is still a 400 for the request', async () => {
    expect((await ingest(Buffer.from('[{"n":1}'))).status).toBe(400);
    expect((await ingest(Buffer.from('{"n":1}'))).status).toBe(400);
  });
});

describe('ingest API: Kafka key and headers', () => {
  it('keys by the partition key field with the agent\'s rule (objects by canonical JSON), else by record id', async () => {
    produced.length = 0;
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/ingest/${keyedDataset}`,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', 'idempotency-key': 'keyed-1' },
      payload: '[{"device":"d1"},{"device":7},{"device":{"site":"b","id":3}},{"device":{"id":3, "site":"b"}},{"device":null},{"n":1}]',
    });
    expect(res.statusCode).toBe(200);
    // The same strings agent/src/runtime/to-message.test.ts expects of the agent for the same payloads.
    expect(produced.map((m) => m.key.toString())).toEqual([
      'd1',
      '7',
      '{"id":3,"site":"b"}',
      '{"id":3,"site":"b"}',
      'control-plane:ingest-api:h:keyed-1:4',
      'control-plane:ingest-api:h:keyed-1:5',
    ]);
    const headers = envelopeHeaders(keyedDataset, INGEST_AGENT_ID, 1);
    expect(headers).toEqual({ dataset: keyedDataset, 'schema-version': '1', 'agent-id': INGEST_AGENT_ID, 'content-type': CONTENT_TYPES.envelope });
    expect(produced.every((m) => m.headers === headers)).toBe(true);
  });
});
