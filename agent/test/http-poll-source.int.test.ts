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
import { topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import type { HttpPollSourceConfig } from '@sluice/shared/agent-config/http-poll';
import { HttpPollSource, type BreakerState } from '../src/sources/http-poll/http-poll-source.ts';
import { startSourcePipeline, type SourcePipeline } from './support/source-pipeline.ts';
import { json, TestHttpServer } from './support/test-http-server.ts';
import { readTopic } from './support/topic-reader.ts';
import { waitFor } from './support/wait-for.ts';

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
    const config: HttpPollSourceConfig = {
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
      const source = new HttpPollSource(config, { onBreakerState: (s) => states.push(s) });
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

    const messages = await readTopic(brokers, topicForDataset(dataset), (m) => m.length >= 70);
    const envelopes = messages.map((m) => JSON.parse(m.value.toString('utf8')) as Envelope);
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
    await expect(readTopic(brokers, topicForDataset(dataset), (m) => m.length > 70, 5000)).rejects.toThrow(/read 70 messages/);
    expect(states.indexOf('half-open')).toBeGreaterThan(states.indexOf('open'));
    expect(first.errors.some((e) => /Breaker is open/.test(e))).toBe(true);
    expect(requestNo).toBeGreaterThan(servedPages.length);
  });
});
