/**
 * http-push on the agent's HTTP server → real outbox → real Kafka: 200 only after the commit, NDJSON bad
 * lines shipped as parseError records, 429 + Retry-After while the outbox is full, accepted again once the
 * shipper drained it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { TEST_TOPIC_PREFIX } from '@sluice/shared/node/testing/test-resources';
import { createLogger } from '@sluice/shared/node/logger';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { AgentHttpServer } from '../src/http/server.ts';
import { HttpPushSource } from '../src/sources/http-push/http-push-source.ts';
import { httpPushConfig } from './support/source-config.ts';
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
    const server = new AgentHttpServer({
      log: createLogger('it', { level: 'silent' }),
      metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
      status: () => ({}),
      healthy: () => ({ ok: true }),
    });
    server.route('POST', `/v1/ingest/${dataset}`, (req, res) => source.handle(req, res));
    const address = await server.listen('127.0.0.1:0');
    cleanup.push(() => server.close());
    const post = (body: string, key: string) =>
      fetch(`http://127.0.0.1:${address.port}/v1/ingest/${dataset}`, {
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
    const envelopes = messages.map((m) => JSON.parse(m.value.toString('utf8')) as Envelope);
    expect(envelopes.map((e) => e.id).sort()).toEqual(
      ['req-1:0', 'req-1:1', 'req-1:2', 'req-2:0', 'req-2:1', 'req-3:0'].map((s) => `it-agent:push-it:h:${s}`),
    );
    expect(envelopes.find((e) => e.id.endsWith('req-1:1'))?.parseError).toMatchObject({ raw: '{broken' });
  });
});
