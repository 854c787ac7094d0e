import { afterEach, describe, expect, it } from 'vitest';
import { MemoryContext, type MemoryContextOptions } from '../../../test/support/memory-context.ts';
import { json, TestHttpServer } from '../../../test/support/test-http-server.ts';
import { httpPollConfig, type HttpPollSourceInput } from '../../../test/support/source-config.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { ManualClock } from '@sluice/shared/node/testing/manual-clock';
import { HttpPollSource, type BreakerState } from './http-poll-source.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function server(): Promise<TestHttpServer> {
  const s = await new TestHttpServer().start();
  cleanup.push(() => s.stop());
  return s;
}

async function startPoll(config: Partial<HttpPollSourceInput> & { url: string }, options: MemoryContextOptions = {}, onBreaker?: (s: BreakerState) => void) {
  const source = new HttpPollSource(
    httpPollConfig({ type: 'http-poll', id: 'poll1', dataset: 'items', intervalMs: 200, retry: { retries: 3, minDelayMs: 20, maxDelayMs: 200 }, ...config }),
    onBreaker ? { onBreakerState: (s) => onBreaker(s) } : {},
  );
  const ctx = new MemoryContext({ sourceId: 'poll1', ...options });
  await source.start(ctx);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    ctx.controller.abort();
    await source.stop();
  };
  cleanup.push(stop);
  return { source, ctx, stop };
}

/** 10 items (id 1..10, updatedAt = id) served from `since` on. */
const ITEMS = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, updatedAt: i + 1 }));
const after = (since: string | null) => ITEMS.filter((item) => item.id > Number(since ?? 0));
const payloadIds = (ctx: MemoryContext) => ctx.envelopes().map((e) => (e.payload as { id: number }).id);

describe('http-poll: pagination', () => {
  it('follows Link headers and extracts records from recordsPath', async () => {
    const s = await server();
    s.handler = (req, res) => {
      const page = Number(req.url.searchParams.get('p') ?? 1);
      const link: Record<string, string> = page < 3 ? { link: `</items?p=${page + 1}>; rel="next", </items?p=1>; rel="first"` } : {};
      json(res, { data: ITEMS.slice((page - 1) * 4, page * 4) }, 200, link);
    };
    const { ctx, stop } = await startPoll({ url: `${s.url}/items`, pagination: { type: 'link-header' }, recordsPath: 'data', intervalMs: 60_000 });
    await ctx.until(() => ctx.committed.length === 10);
    await stop();
    expect(payloadIds(ctx)).toEqual(ITEMS.map((i) => i.id));
    expect(new Set(ctx.committed.map((m) => m.key)).size).toBe(10);
    expect(s.seen.map((r) => r.url.search)).toEqual(['', '?p=2', '?p=3']);
  });

  it('follows a cursor field and resumes from the stored cursor when the feed has nothing new', async () => {
    const s = await server();
    s.handler = (req, res) => {
      const from = Number(req.url.searchParams.get('cursor') ?? 0);
      const items = ITEMS.slice(from, from + 3);
      json(res, { items, meta: { next: String(from + items.length) } });
    };
    const { ctx, stop } = await startPoll({ url: `${s.url}/feed`, pagination: { type: 'cursor', cursorPath: 'meta.next', param: 'cursor' }, recordsPath: 'items' });
    await ctx.until(() => ctx.committed.length === 10);
    await waitFor(() => s.seen.filter((r) => r.url.searchParams.get('cursor') === '10').length >= 2, 10_000, 'a second poll at the stored cursor');
    await stop();
    expect(payloadIds(ctx)).toEqual(ITEMS.map((i) => i.id));
    // Never restarted from the beginning: only the very first request had no cursor.
    expect(s.seen.filter((r) => !r.url.searchParams.has('cursor'))).toHaveLength(1);
  });

  it('walks page numbers and offsets until a short page', async () => {
    const s = await server();
    s.handler = (req, res) => {
      const q = req.url.searchParams;
      if (q.has('page')) {
        const page = Number(q.get('page'));
        const size = Number(q.get('size'));
        return json(res, ITEMS.slice(page * size, (page + 1) * size));
      }
      const offset = Number(q.get('offset'));
      json(res, ITEMS.slice(offset, offset + Number(q.get('limit'))));
    };
    const paged = await startPoll({ url: `${s.url}/p`, pagination: { type: 'page', param: 'page', sizeParam: 'size', size: 4, startAt: 0 }, intervalMs: 60_000 });
    await paged.ctx.until(() => paged.ctx.committed.length === 10);
    await paged.stop();
    const offset = await startPoll({ url: `${s.url}/o`, pagination: { type: 'offset', param: 'offset', limitParam: 'limit', limit: 3 }, intervalMs: 60_000 });
    await offset.ctx.until(() => offset.ctx.committed.length === 10);
    await offset.stop();
    expect(payloadIds(paged.ctx)).toEqual(ITEMS.map((i) => i.id));
    expect(payloadIds(offset.ctx)).toEqual(ITEMS.map((i) => i.id));
    expect(s.seen.filter((r) => r.url.pathname === '/p').map((r) => r.url.searchParams.get('page'))).toEqual(['0', '1', '2']);
    expect(s.seen.filter((r) => r.url.pathname === '/o').map((r) => r.url.searchParams.get('offset'))).toEqual(['0', '3', '6', '9']);
  });

  it('incremental: the next poll asks from the watermark of the last record', async () => {
    const s = await server();
    let served = 4;
    s.handler = (req, res) => json(res, after(req.url.searchParams.get('since')).slice(0, served));
    const { ctx, stop } = await startPoll({ url: `${s.url}/inc`, incremental: { param: 'since', fromPath: 'updatedAt', initial: '0' } });
    await ctx.until(() => ctx.committed.length === 4);
    served = 100;
    await ctx.until(() => ctx.committed.length === 10);
    await waitFor(() => s.seen.some((r) => r.url.searchParams.get('since') === '10'));
    await stop();
    expect(payloadIds(ctx)).toEqual(ITEMS.map((i) => i.id));
    expect(s.seen[0]?.url.searchParams.get('since')).toBe('0');
    expect(s.seen.map((r) => r.url.searchParams.get('since'))).toContain('4');
  });
});

describe('http-poll: failures', () => {
  it('retries 500s and recovers; each item is committed once', async () => {
    const s = await server();
    let failures = 3;
    s.handler = (_req, res) => (failures-- > 0 ? json(res, { error: 'boom' }, 500) : json(res, ITEMS));
    const { ctx, stop } = await startPoll({ url: `${s.url}/flaky`, intervalMs: 60_000 });
    await ctx.until(() => ctx.committed.length === 10);
    await stop();
    expect(s.seen).toHaveLength(4);
    expect(payloadIds(ctx)).toEqual(ITEMS.map((i) => i.id));
  });

  it('honours Retry-After on 429', async () => {
    const s = await server();
    let limited = true;
    s.handler = (_req, res) => {
      if (limited) {
        limited = false;
        return json(res, { error: 'slow down' }, 429, { 'retry-after': '1' });
      }
      json(res, ITEMS.slice(0, 2));
    };
    // Retry-After is honoured up to retry.maxDelayMs (shared/node/retry.ts caps it there).
    const { ctx, stop } = await startPoll({ url: `${s.url}/limited`, intervalMs: 60_000, retry: { retries: 3, minDelayMs: 20, maxDelayMs: 5000 } });
    await ctx.until(() => ctx.committed.length === 2);
    await stop();
    expect(s.seen).toHaveLength(2);
    // The retry waited at least what the server asked for (min backoff here is 20 ms).
    expect(s.seen[1]!.at - s.seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('server down: the breaker opens, then half-opens and closes when the server is back', async () => {
    const s = await server();
    const port = s.port;
    await s.stop();
    const states: BreakerState[] = [];
    const { ctx, source, stop } = await startPoll(
      {
        url: `http://127.0.0.1:${port}/down`,
        intervalMs: 100,
        retry: { retries: 0, minDelayMs: 10, maxDelayMs: 10 },
        breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 500, timeoutMs: 2000 },
      },
      {},
      (state) => states.push(state),
    );
    await waitFor(() => states.includes('open'), 15_000, 'breaker open');
    expect(source.status().details).toMatchObject({ breaker: 'open', breakerState: 2 });
    expect(source.status().lastError?.message).toBeTruthy();
    const back = await new TestHttpServer().start(port);
    cleanup.push(() => back.stop());
    back.handler = (_req, res) => json(res, ITEMS.slice(0, 3));
    await ctx.until(() => ctx.committed.length >= 3);
    await waitFor(() => states.at(-1) === 'closed', 10_000, 'breaker closed');
    await stop();
    expect(states.indexOf('half-open')).toBeGreaterThan(states.indexOf('open'));
    expect(source.status().details).toMatchObject({ breaker: 'closed', breakerState: 0 });
    expect(ctx.errors.length).toBeGreaterThan(0);
  });

  it('a non-JSON answer becomes a parseError record and a status error, not a crash; the page is retried', async () => {
    const s = await server();
    let broken = true;
    s.handler = (_req, res) => {
      if (broken) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html>maintenance</html>');
      }
      json(res, ITEMS.slice(0, 2));
    };
    const { ctx, source, stop } = await startPoll({ url: `${s.url}/html`, intervalMs: 100 });
    await ctx.until(() => ctx.committed.length >= 1);
    expect(ctx.envelopes()[0]?.parseError).toMatchObject({ raw: '<html>maintenance</html>', reason: expect.stringMatching(/not JSON \(text\/html\)/) as unknown });
    await waitFor(() => source.status().lastError?.message.includes('not JSON'));
    broken = false;
    await ctx.until(() => ctx.envelopes().some((e) => e.payload !== null));
    await stop();
    const good = ctx.envelopes().filter((e) => e.parseError === undefined);
    expect(good.map((e) => (e.payload as { id: number }).id)).toEqual([1, 2]);
    const errorIds = new Set(ctx.envelopes().filter((e) => e.parseError).map((e) => e.id));
    expect(errorIds.size).toBe(1);
    expect(good.some((e) => errorIds.has(e.id))).toBe(false);
  });

  it('cuts the raw text of an answer over maxRecordBytes so that its parseError record fits the limit', async () => {
    const s = await server();
    s.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<html>${'é'.repeat(20_000)}</html>`);
    };
    const { ctx, stop } = await startPoll({ url: `${s.url}/big`, intervalMs: 60_000, maxRecordBytes: 16_384 });
    await ctx.until(() => ctx.committed.length >= 1);
    await stop();
    expect(Buffer.byteLength(ctx.committed[0]?.value ?? '')).toBeGreaterThan(4_000);
    expect(Buffer.byteLength(ctx.committed[0]?.value ?? '')).toBeLessThanOrEqual(16_384);
    expect(ctx.envelopes()[0]?.parseError?.raw).toMatch(/^<html>é+$/);
  });

  it('sends bearer, basic and API-key auth', async () => {
    const s = await server();
    s.handler = (_req, res) => json(res, []);
    const auths: HttpPollSourceInput['auth'][] = [
      { bearer: { token: 't0k3n' } },
      { basic: { username: 'u', password: 'p' } },
      { apiKey: { header: 'X-Api-Key', value: 'k' } },
    ];
    for (const auth of auths) {
      const { stop } = await startPoll({ url: `${s.url}/auth`, auth, intervalMs: 60_000 });
      await waitFor(() => s.seen.length === auths.indexOf(auth) + 1);
      await stop();
    }
    expect(s.seen.map((r) => r.headers.authorization ?? r.headers['x-api-key'])).toEqual(['Bearer t0k3n', `Basic ${Buffer.from('u:p').toString('base64')}`, 'k']);
  });
});

describe('http-poll: cursor across a crash', () => {
  it('a new source instance resumes at the first uncommitted page: no page skipped, none repeated', async () => {
    const s = await server();
    s.handler = (req, res) => {
      const page = Number(req.url.searchParams.get('page') ?? 1);
      json(res, ITEMS.slice((page - 1) * 2, page * 2));
    };
    const store = new Map<string, string>();
    let commits = 0;
    const config = { url: `${s.url}/pages`, pagination: { type: 'page', param: 'page', size: 2 } as const, intervalMs: 60_000 };
    const first = await startPoll(config, {
      checkpoints: store,
      beforeCommit: () => {
        if (++commits === 3) throw new Error('simulated crash before page 3 commits');
      },
    });
    await waitFor(() => first.ctx.errors.length > 0, 10_000, 'the crash');
    await first.stop();
    expect(payloadIds(first.ctx)).toEqual([1, 2, 3, 4]);
    const second = await startPoll(config, { checkpoints: store });
    await second.ctx.until(() => second.ctx.committed.length === 6);
    await second.stop();
    expect(payloadIds(second.ctx)).toEqual([5, 6, 7, 8, 9, 10]);
    const ids = [...first.ctx.committed, ...second.ctx.committed].map((m) => m.key);
    expect(new Set(ids).size).toBe(10);
    // The second run started at page 3, not page 1.
    const pagesAsked = s.seen.map((r) => r.url.searchParams.get('page'));
    expect(pagesAsked.filter((p) => p === '1')).toHaveLength(1);
    expect(pagesAsked.filter((p) => p === '2')).toHaveLength(1);
  });
});

describe('http-poll: record ids', () => {
  it('a full re-poll yields the same ids: from idField when set, else from the content (key order aside)', async () => {
    const s = await server();
    let poll = 0;
    s.handler = (_req, res) => {
      poll++;
      // Same records each poll, in another order, keys shuffled, with a field that changes per poll.
      const items = ITEMS.slice(0, 4).map((item) => (poll % 2 === 0 ? { seen: poll, updatedAt: item.updatedAt, id: item.id } : { id: item.id, updatedAt: item.updatedAt, seen: poll }));
      json(res, poll % 2 === 0 ? items.reverse() : items);
    };
    const keyed = await startPoll({ url: `${s.url}/keyed`, idField: '/id', intervalMs: 100 });
    await waitFor(() => s.seen.length >= 3, 10_000, 'three polls');
    await keyed.stop();
    expect(new Set(keyed.ctx.committed.map((m) => m.key)).size).toBe(4);

    s.handler = (_req, res) => json(res, poll++ % 2 === 0 ? ITEMS.slice(0, 4) : ITEMS.slice(0, 4).reverse().map((i) => ({ updatedAt: i.updatedAt, id: i.id })));
    const seenBefore = s.seen.length;
    const content = await startPoll({ url: `${s.url}/content?token=a` });
    await waitFor(() => s.seen.length >= seenBefore + 3, 10_000, 'three polls');
    await content.stop();
    expect(content.ctx.committed.length).toBeGreaterThanOrEqual(12);
    expect(new Set(content.ctx.committed.map((m) => m.key)).size).toBe(4);
  });

  it('a record without its idField is shipped as a parseError (to the DLQ), under a stable id', async () => {
    const s = await server();
    s.handler = (_req, res) => json(res, [{ id: 1 }, { name: 'no id' }, { id: null }]);
    const { ctx, stop } = await startPoll({ url: `${s.url}/partial`, idField: '/id', intervalMs: 100 });
    // Two polls committed (a request seen is not yet a page committed: stopping then would drop the second).
    await ctx.until(() => ctx.committed.length >= 6);
    await stop();
    const envelopes = ctx.envelopes();
    expect(new Set(envelopes.map((e) => e.id)).size).toBe(3);
    const broken = envelopes.filter((e) => e.parseError);
    expect(broken.length).toBeGreaterThanOrEqual(4);
    expect(broken[0]?.parseError).toMatchObject({ reason: 'idField /id is missing, null or empty in the record', raw: '{"name":"no id"}' });
  });
});

describe('http-poll: restart', () => {
  it('waits for the rest of the interval since the last successful poll, then polls', async () => {
    const s = await server();
    s.handler = (_req, res) => json(res, ITEMS.slice(0, 2));
    const store = new Map<string, string>();
    const config = { url: `${s.url}/slow`, intervalMs: 1500 };
    const first = await startPoll(config, { checkpoints: store });
    await first.ctx.until(() => first.ctx.committed.length === 2);
    await first.stop();
    const second = await startPoll(config, { checkpoints: store });
    expect(second.source.status().details).toMatchObject({ nextPollAt: expect.any(String) as unknown, lastSuccessAt: expect.any(String) as unknown });
    await waitFor(() => s.seen.length === 2, 5_000, 'the poll after the interval');
    await second.stop();
    expect(s.seen[1]!.at - s.seen[0]!.at).toBeGreaterThanOrEqual(1400);
  });

  it('the poller waits a whole interval between polls, and after a restart exactly what is left of it', async () => {
    const s = await server();
    s.handler = (_req, res) => json(res, ITEMS.slice(0, 2));
    const clock = new ManualClock();
    const store = new Map<string, string>();
    const config = { url: `${s.url}/timed`, intervalMs: 60_000 };
    const first = await startPoll(config, { checkpoints: store, clock });
    await first.ctx.until(() => first.ctx.committed.length === 2);
    await clock.untilSleeping();
    expect(clock.sleeping.map((sleep) => sleep.ms)).toEqual([60_000]);
    await first.stop();
    expect(clock.sleeping).toEqual([]); // the stop ended the wait
    clock.advance(20_000); // down for a third of the interval
    const second = await startPoll(config, { checkpoints: store, clock });
    await clock.untilSleeping();
    expect(clock.sleeping.map((sleep) => sleep.ms)).toEqual([40_000]);
    expect(s.seen).toHaveLength(1);
    clock.advance(40_000);
    await second.ctx.until(() => second.ctx.committed.length === 2);
    expect(s.seen).toHaveLength(2);
    await clock.untilSleeping();
    expect(clock.sleeping.map((sleep) => sleep.ms)).toEqual([60_000]);
  });
});
