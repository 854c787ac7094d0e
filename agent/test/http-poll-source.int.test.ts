/**
 * REST poller → real outbox → real Kafka, against a local test server that paginates by cursor, answers
 * some requests with 500 and 429 (Retry-After), and goes down for a while. The topic must hold every item
 * exactly once (by record id), and no page may be skipped or committed twice, across a source restart too.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { topicForDataset } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { TEST_TOPIC_PREFIX } from '@sluice/shared/node/testing/test-resources';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { HttpPollSource, type BreakerState } from '../src/sources/http-poll/http-poll-source.ts';
import { httpPollConfig, type HttpPollSourceInput } from './support/source-config.ts';
import { startSourcePipeline, type SourcePipeline } from './support/source-pipeline.ts';
import { json, TestHttpServer } from './support/test-http-server.ts';
import { readTopic } from './support/topic-reader.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const brokers = loadStackEnv().kafkaBrokers;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('http-poll source → Kafka', () => {
  it('paginates through 500s, 429s and an outage: each item once, no page skipped or repeated', async () => {
    const work = await mkdtemp(join(tmpdir(), 'sluice-poll-it-'));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    const dataset = `poll_it_${randomBytes(4).toString('hex')}`;

    const items: { id: number; name: string }[] = [];
    const addItems = (n: number) => {
      for (let i = 0; i < n; i++) items.push({ id: items.length + 1, name: `item ${items.length + 1}` });
    };
    addItems(30);
    /** Cursors of the 200 answers that carried items, with markers where the server went down or the agent restarted. */
    const servedPages: string[] = [];
    let requestNo = 0;
    const handler = (req: { url: URL }, res: ServerResponse) => {
      requestNo++;
      if (requestNo % 5 === 3) return json(res, { error: 'internal' }, 500);
      if (requestNo % 7 === 4) return json(res, { error: 'slow down' }, 429, { 'retry-after': '1' });
      const cursor = Number(req.url.searchParams.get('cursor') ?? 0);
      const page = items.filter((item) => item.id > cursor).slice(0, 5);
      if (page.length > 0) servedPages.push(String(cursor));
      json(res, { data: { items: page }, next: String(page.at(-1)?.id ?? cursor) });
    };
    let server = await new TestHttpServer().start();
    server.handler = handler;
    const port = server.port;
    cleanup.push(() => server.stop());

    const states: BreakerState[] = [];
    const config: HttpPollSourceInput = {
      type: 'http-poll',
      id: 'poll-it',
      dataset,
      url: `${server.url}/api/items`,
      intervalMs: 200,
      recordsPath: 'data.items',
      pagination: { type: 'cursor', cursorPath: 'next', param: 'cursor' },
      retry: { retries: 2, minDelayMs: 50, maxDelayMs: 2000 },
      breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 1000, timeoutMs: 5000 },
      rateLimit: { requestsPerSecond: 50 },
    };
    const startPipeline = async (): Promise<SourcePipeline> => {
      const source = new HttpPollSource(httpPollConfig(config), { onBreakerState: (s) => states.push(s) });
      const pipeline = await startSourcePipeline({ dir: join(work, 'data'), brokers, source });
      cleanup.push(() => pipeline.stop(5000));
      return pipeline;
    };
    const first = await startPipeline();
    const MARKERS = new Set(['DOWN', 'RESTART']);
    const served = () => servedPages.filter((p) => !MARKERS.has(p)).length * 5;

    await waitFor(() => served() >= 15, 60_000, 'the first pages');
    servedPages.push('DOWN');
    await server.stop();
    await waitFor(() => states.includes('open'), 60_000, 'the breaker to open while the server is down');
    addItems(30);
    await sleep(1500);
    server = await new TestHttpServer().start(port);
    server.handler = handler;
    await waitFor(() => states.lastIndexOf('closed') > states.indexOf('open'), 60_000, 'the breaker to close again');
    await waitFor(() => served() >= 60, 60_000, 'all 60 items served');

    // A restart (new source instance, same outbox and checkpoints) carries on from the stored cursor.
    servedPages.push('RESTART');
    await first.stop(30_000);
    addItems(10);
    await startPipeline();
    await waitFor(() => served() >= 70, 60_000, 'the 10 items added while restarting');

    const messages = await readTopic(brokers, topicForDataset(dataset, TEST_TOPIC_PREFIX), (m) => m.length >= 70);
    const envelopes = messages.map((m) => readWireEnvelope(m.key, m.value, m.headers));
    expect(envelopes.map((e) => (e.payload as { id: number }).id).sort((a, b) => a - b)).toEqual(items.map((i) => i.id));
    expect(new Set(envelopes.map((e) => e.id)).size).toBe(70);
    // A page is fetched twice only when the outage or the restart cut it off before its commit: then the
    // repeat comes right after the marker and is the page right before it. Anything else is a bug.
    const pages = servedPages.filter((p) => !MARKERS.has(p));
    const repeats = pages.filter((p, i) => pages.indexOf(p) !== i);
    for (const page of repeats) {
      const at = servedPages.lastIndexOf(page);
      expect(MARKERS.has(servedPages[at - 1] ?? ''), `page ${page} repeated: ${servedPages.join(' ')}`).toBe(true);
      expect(servedPages[at - 2]).toBe(page);
    }
    // Nothing beyond the 70: no page was committed twice.
    await expect(readTopic(brokers, topicForDataset(dataset, TEST_TOPIC_PREFIX), (m) => m.length > 70, 5000)).rejects.toThrow(/read 70 messages/);
    expect(states.indexOf('half-open')).toBeGreaterThan(states.indexOf('open'));
    expect(first.errors.some((e) => /Breaker is open/.test(e))).toBe(true);
    expect(requestNo).toBeGreaterThan(servedPages.length);
  });
});

describe('http-poll source → Kafka: full (non-incremental) endpoints', () => {
  const setup = async (name: string) => {
    const work = await mkdtemp(join(tmpdir(), `sluice-poll-${name}-`));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    const server = await new TestHttpServer().start();
    cleanup.push(() => server.stop());
    return { work, server, dataset: `poll_${name}_${randomBytes(4).toString('hex')}` };
  };
  const start = async (dir: string, config: HttpPollSourceInput): Promise<{ source: HttpPollSource; pipeline: SourcePipeline }> => {
    const source = new HttpPollSource(httpPollConfig(config));
    const pipeline = await startSourcePipeline({ dir, brokers, source });
    cleanup.push(() => pipeline.stop(5000));
    return { source, pipeline };
  };

  it('polling the same list again ships the same ids: exactly N distinct ids in the topic', async () => {
    const { work, server, dataset } = await setup('same');
    const N = 7;
    let poll = 0;
    server.handler = (_req, res) => {
      poll++;
      // The same N records each time; the order flips, as a list without a stable sort may.
      const records = Array.from({ length: N }, (_, i) => ({ sku: `s-${i}`, price: i * 10 }));
      json(res, { records: poll % 2 === 0 ? records.reverse() : records });
    };
    const { pipeline } = await start(join(work, 'data'), { type: 'http-poll', id: 'full', dataset, url: `${server.url}/catalog?api_key=secret`, intervalMs: 300, recordsPath: 'records' });
    await waitFor(() => server.seen.length >= 3, 30_000, 'three polls');
    await pipeline.stop(30_000);
    const polls = server.seen.length;
    const messages = await readTopic(brokers, topicForDataset(dataset, TEST_TOPIC_PREFIX), (m) => m.length >= polls * N);
    const envelopes = messages.map((m) => readWireEnvelope(m.key, m.value, m.headers));
    expect(envelopes).toHaveLength(polls * N);
    expect(new Set(envelopes.map((e) => e.id)).size).toBe(N);
    // One id, one content: the id is the record's, not its position in a response.
    const byId = new Map(envelopes.map((e) => [e.id, JSON.stringify(e.payload)]));
    for (const e of envelopes) expect(JSON.stringify(e.payload)).toBe(byId.get(e.id));
    expect(new Set(messages.map((m) => m.key?.toString())).size).toBe(N);
  });

  it('with idField, a record keeps its id when other fields change between polls', async () => {
    const { work, server, dataset } = await setup('keyed');
    let poll = 0;
    server.handler = (_req, res) => json(res, [1, 2, 3].map((id) => ({ user: { id }, lastSeen: ++poll })));
    const { pipeline } = await start(join(work, 'data'), { type: 'http-poll', id: 'keyed', dataset, url: `${server.url}/users`, intervalMs: 300, idField: '/user/id' });
    // Two polls shipped (a poll still in flight when the pipeline stops is not: it is polled again later).
    const messages = await readTopic(brokers, topicForDataset(dataset, TEST_TOPIC_PREFIX), (m) => m.length >= 6);
    await pipeline.stop(30_000);
    expect(server.seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(messages.map((m) => (readWireEnvelope(m.key, m.value, m.headers)).id)).size).toBe(3);
  });

  it('a restart does not poll before the interval since the last successful poll has passed', async () => {
    const { work, server, dataset } = await setup('restart');
    server.handler = (_req, res) => json(res, [{ n: 1 }, { n: 2 }]);
    const config: HttpPollSourceInput = { type: 'http-poll', id: 'restart', dataset, url: `${server.url}/items`, intervalMs: 4000 };
    const first = await start(join(work, 'data'), config);
    await waitFor(() => first.pipeline.outbox.stats().rows === 0 && server.seen.length === 1 && first.source.status().details?.lastSuccessAt, 30_000, 'the first poll shipped');
    await first.pipeline.stop(10_000);
    const restartedAt = Date.now();
    await start(join(work, 'data'), config);
    await sleep(2000);
    expect(server.seen, 'polled again right after the restart').toHaveLength(1);
    await waitFor(() => server.seen.length === 2, 10_000, 'the poll once the interval is over');
    expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(3900);
    expect(server.seen[1]!.at - restartedAt).toBeLessThan(4000);
  });

  it('after an outage the status is running again as soon as pages succeed, even mid-chain', async () => {
    const { work, server, dataset } = await setup('recover');
    // An endless cursor feed: the chain never ends, so "running" cannot wait for the end of a poll.
    const handler = (req: { url: URL }, res: ServerResponse) => {
      const cursor = Number(req.url.searchParams.get('c') ?? 0);
      json(res, { items: [{ n: cursor + 1 }, { n: cursor + 2 }], next: String(cursor + 2) });
    };
    server.handler = handler;
    const port = server.port;
    const { source } = await start(join(work, 'data'), {
      type: 'http-poll',
      id: 'recover',
      dataset,
      url: `${server.url}/feed`,
      intervalMs: 200,
      recordsPath: 'items',
      pagination: { type: 'cursor', cursorPath: 'next', param: 'c' },
      rateLimit: { requestsPerSecond: 20 },
      retry: { retries: 1, minDelayMs: 50, maxDelayMs: 200 },
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 500, timeoutMs: 2000 },
    });
    await waitFor(() => server.seen.length >= 5 && source.status().state === 'running', 30_000, 'pages flowing');
    await server.stop();
    await waitFor(() => source.status().state === 'backoff' && source.status().lastError, 30_000, 'a failed poll during the outage');
    const back = await new TestHttpServer().start(port);
    cleanup.push(() => back.stop());
    back.handler = handler;
    await waitFor(() => back.seen.length >= 3, 30_000, 'pages after the outage');
    await waitFor(() => source.status().state === 'running', 5_000, 'running again');
    expect(source.status().details).toMatchObject({ midChain: true, breaker: 'closed' });
  });
});
