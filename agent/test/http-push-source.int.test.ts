/**
 * http-push on the agent's HTTP server → real outbox → real Kafka: 200 only after the commit, NDJSON bad
 * lines shipped as parseError records, 429 + Retry-After while the outbox is full, accepted again once the
 * shipper drained it. The same over a WebSocket stream: acks only after the commit, withheld while the outbox
 * is full, sent once the shipper made room; every acknowledged message in Kafka once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { topicForDataset } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { TEST_TOPIC_PREFIX } from '@sluice/shared/node/testing/test-resources';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { HttpPushSource } from '../src/sources/http-push/http-push-source.ts';
import { httpPushConfig } from './support/source-config.ts';
import { servePushSource } from './support/push-server.ts';
import { startSourcePipeline } from './support/source-pipeline.ts';
import { readTopic } from './support/topic-reader.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const brokers = loadStackEnv().kafkaBrokers;
const TOKEN = 'integration-push-token';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('http-push source → Kafka', () => {
  it('commits before answering, ships bad NDJSON lines as parseError records, 429 while the outbox is full', async () => {
    const work = await mkdtemp(join(tmpdir(), 'sluice-push-it-'));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    const dataset = `push_it_${randomBytes(4).toString('hex')}`;
    const source = new HttpPushSource(httpPushConfig({ type: 'http-push', id: 'push-it', dataset, token: TOKEN }));
    const pipeline = await startSourcePipeline({ dir: join(work, 'data'), brokers, source, maxRows: 5, holdShipper: true });
    cleanup.push(() => pipeline.stop(10_000));
    const { server, port } = await servePushSource(source);
    cleanup.push(() => server.close());
    const post = (body: string, key: string) =>
      fetch(`http://127.0.0.1:${port}/v1/ingest/${dataset}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson', 'idempotency-key': key },
        body,
      });

    const first = await post('{"n":1}\n{broken\n{"n":3}\n', 'req-1');
    expect(first.status).toBe(200);
    expect(pipeline.outbox.stats().rows).toBe(3);
    expect(await post('{"n":4}\n{"n":5}\n', 'req-2').then((r) => r.status)).toBe(200);
    const full = await post('{"n":6}\n', 'req-3');
    expect(full.status).toBe(429);
    expect(full.headers.get('retry-after')).toBe('1');
    expect(pipeline.outbox.stats().rows).toBe(5);

    pipeline.shipper.start();
    await waitFor(() => pipeline.outbox.stats().rows === 0, 60_000, 'the outbox to drain');
    expect(await post('{"n":6}\n', 'req-3').then((r) => r.status)).toBe(200);

    const messages = await readTopic(brokers, topicForDataset(dataset, TEST_TOPIC_PREFIX), (m) => m.length >= 6);
    const envelopes = messages.map((m) => readWireEnvelope(m.key, m.value, m.headers));
    expect(envelopes.map((e) => e.id).sort()).toEqual(
      ['req-1:0', 'req-1:1', 'req-1:2', 'req-2:0', 'req-2:1', 'req-3:0'].map((s) => `it-agent:push-it:h:${s}`),
    );
    expect(envelopes.find((e) => e.id.endsWith('req-1:1'))?.parseError).toMatchObject({ raw: '{broken' });
  });

  it('a WebSocket stream: acks after the commit, none while the outbox is full, the rest once the shipper made room', async () => {
    const work = await mkdtemp(join(tmpdir(), 'sluice-push-ws-it-'));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    const dataset = `push_ws_${randomBytes(4).toString('hex')}`;
    const source = new HttpPushSource(httpPushConfig({ type: 'http-push', id: 'push-ws', dataset, token: TOKEN, websocket: { enabled: true, fullTimeoutMs: 60_000 } }));
    const pipeline = await startSourcePipeline({ dir: join(work, 'data'), brokers, source, maxRows: 10, holdShipper: true });
    cleanup.push(() => pipeline.stop(10_000));
    const { server, port } = await servePushSource(source);
    cleanup.push(() => server.close());
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ingest/${dataset}`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-sluice-stream': 'gw-1' } });
    cleanup.push(() => Promise.resolve(ws.terminate()));
    const acks: number[] = [];
    ws.on('message', (data: Buffer) => acks.push((JSON.parse(data.toString()) as { ack: number }).ack));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));

    // 30 messages of 2 records into an outbox of 10 rows with the shipper held: the first 5 fit.
    for (let i = 0; i < 30; i++) ws.send(JSON.stringify([{ n: i * 2 }, { n: i * 2 + 1 }]));
    await waitFor(() => acks.length === 5, 10_000, 'the first five acks');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(acks).toEqual([1, 2, 3, 4, 5]);
    expect(pipeline.outbox.stats().rows).toBe(10);

    pipeline.shipper.start();
    await waitFor(() => acks.length === 30, 60_000, 'every ack');
    expect(acks).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const messages = await readTopic(brokers, topicForDataset(dataset, TEST_TOPIC_PREFIX), (m) => m.length >= 60);
    const envelopes = messages.map((m) => readWireEnvelope(m.key, m.value, m.headers));
    expect(new Set(envelopes.map((e) => e.id)).size).toBe(60);
    expect(envelopes.map((e) => (e.payload as { n: number }).n).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(envelopes.find((e) => e.id === 'it-agent:push-ws:h:gw-1-30:1')?.payload).toEqual({ n: 59 });
  });
});
