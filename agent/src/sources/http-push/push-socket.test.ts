import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryContext, type MemoryContextOptions } from '../../../test/support/memory-context.ts';
import { httpPushConfig } from '../../../test/support/source-config.ts';
import { servePushSource } from '../../../test/support/push-server.ts';
import type { AgentHttpServer } from '../../http/server.ts';
import { HttpPushSource } from './http-push-source.ts';
import { CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN_LATER } from './push-socket.ts';

const TOKEN = 'push-token-0123456789';
let servers: AgentHttpServer[] = [];
let clients: WebSocket[] = [];
afterEach(async () => {
  for (const c of clients) c.terminate();
  for (const s of servers) await s.close();
  servers = [];
  clients = [];
});

interface Answer {
  ack?: number;
  nack?: number;
  accepted?: number;
  parseErrors?: number;
  requestId?: string;
  errors?: Array<{ index: number; reason: string }>;
  error?: { name: string; message: string };
}

async function startStream(options: MemoryContextOptions = {}, websocket: Record<string, unknown> = {}, config: { maxRecords?: number } = {}) {
  const source = new HttpPushSource(httpPushConfig({ type: 'http-push', id: 'push1', dataset: 'events', token: TOKEN, websocket: { enabled: true, ...websocket }, ...config }));
  const ctx = new MemoryContext({ sourceId: 'push1', ...options });
  await source.start(ctx);
  const { server, port } = await servePushSource(source);
  servers.push(server);
  const connect = (headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }, query = '', protocols: string[] = []) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ingest/events${query}`, protocols, { headers });
    clients.push(ws);
    // A refused or terminated client errors; the tests look at `refused` and `closed` instead.
    ws.on('error', () => undefined);
    const answers: Answer[] = [];
    ws.on('message', (data: Buffer) => answers.push(JSON.parse(data.toString()) as Answer));
    const opened = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', () => reject(new Error('refused')));
    });
    opened.catch(() => undefined);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    const refused = new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    return { ws, answers, opened, closed, refused };
  };
  return { source, ctx, connect };
}

async function until<T>(probe: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('http-push WebSocket streams', () => {
  it('acknowledges each message in order once committed; a named stream resumed after a reconnect keeps its ids', async () => {
    const { ctx, connect, source } = await startStream();
    const first = connect({ authorization: `Bearer ${TOKEN}`, 'x-sluice-stream': 'sensor-7' });
    await first.opened;
    for (let i = 0; i < 20; i++) first.ws.send(JSON.stringify([{ n: i * 2 }, { n: i * 2 + 1 }]));
    await until(() => (first.answers.length === 20 ? true : undefined));
    expect(first.answers.map((a) => a.ack)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(first.answers[0]).toEqual({ ack: 1, accepted: 2, parseErrors: 0, requestId: 'sensor-7-1' });
    expect(ctx.envelopes().map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(ctx.envelopes()[0]).toMatchObject({ id: 'agent1:push1:h:sensor-7-1:0', source: { kind: 'http-push', transport: 'websocket' } });
    // Group commit: fewer fsyncs than messages, and every ack came after its commit.
    expect(ctx.fsyncCommits).toBeLessThanOrEqual(20);
    first.ws.close();
    await first.closed;

    // The client did not see acks 19-20 (say) and sends them again from 19: the same record ids.
    const again = connect({ authorization: `Bearer ${TOKEN}`, 'x-sluice-stream': 'sensor-7', 'x-sluice-resume': '19' });
    await again.opened;
    again.ws.send(JSON.stringify([{ n: 36 }, { n: 37 }]));
    await until(() => again.answers[0]);
    expect(again.answers[0]).toMatchObject({ ack: 19, requestId: 'sensor-7-19' });
    const ids = ctx.envelopes().map((e) => e.id);
    expect(ids.filter((id) => id === 'agent1:push1:h:sensor-7-19:0')).toHaveLength(2);
    expect(source.status().details).toMatchObject({ streams: 2, accepted: 42 });
  });

  it('refuses a stream without the token (401) or with a wrong one (403); a browser may send it as a subprotocol', async () => {
    const { connect, ctx } = await startStream();
    expect(await connect({}).refused).toBe(401);
    expect(await connect({ authorization: 'Bearer nope' }).refused).toBe(403);
    const browser = connect({}, '?stream=tab-1', ['sluice.v1', `bearer.${TOKEN}`]);
    await browser.opened;
    expect(browser.ws.protocol).toBe('sluice.v1');
    browser.ws.send('{"a":1}');
    await until(() => browser.answers[0]);
    expect(browser.answers[0]).toMatchObject({ ack: 1, accepted: 1, requestId: 'tab-1-1' });
    expect(ctx.envelopes()).toHaveLength(1);
  });

  it('keeps what no store would take as parseError records, and refuses an oversized batch for good', async () => {
    const { connect, ctx } = await startStream({}, {}, { maxRecords: 3 });
    const s = connect();
    await s.opened;
    s.ws.send('{not json');
    s.ws.send('[{"ok":true}, "\\u0000"]');
    s.ws.send('[1,2,3,4]');
    s.ws.send('[5]');
    await until(() => (s.answers.length === 4 ? true : undefined));
    expect(s.answers[0]).toMatchObject({ ack: 1, accepted: 1, parseErrors: 1, errors: [{ index: 0 }] });
    expect(s.answers[0]?.errors?.[0]?.reason).toContain('is not JSON');
    expect(s.answers[1]).toMatchObject({ ack: 2, accepted: 2, parseErrors: 1 });
    expect(s.answers[2]).toMatchObject({ nack: 3, error: { name: 'PayloadTooLargeError' } });
    expect(s.answers[3]).toMatchObject({ ack: 4, accepted: 1 });
    expect(ctx.envelopes().map((e) => (e.parseError === undefined ? 'ok' : 'dlq'))).toEqual(['dlq', 'ok', 'dlq', 'ok']);
  });

  it('withholds acks while the outbox is full, acks once there is room, and closes with 1013 when it stays full', async () => {
    const { connect, ctx } = await startStream({ maxRows: 2, autoAck: false }, { fullTimeoutMs: 800 });
    const s = connect();
    await s.opened;
    s.ws.send('[1,2]');
    await until(() => s.answers[0]);
    s.ws.send('[3]');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(s.answers).toHaveLength(1); // committed nothing, acked nothing
    expect(ctx.committed).toHaveLength(2);
    ctx.ack(); // the shipper made room
    await until(() => s.answers[1]);
    expect(s.answers[1]).toMatchObject({ ack: 2, accepted: 1 });

    s.ws.send('[4,5]');
    const closed = await s.closed;
    expect(closed).toEqual({ code: CLOSE_TRY_AGAIN_LATER, reason: 'outbox full (bounds): try again later' });
    expect(s.answers).toHaveLength(2);
    expect(ctx.committed).toHaveLength(3);
  });

  it('closes its streams with 1001 when the source stops', async () => {
    const { connect, source } = await startStream();
    const s = connect();
    await s.opened;
    await source.stop();
    expect((await s.closed).code).toBe(CLOSE_GOING_AWAY);
    expect(await connect().refused).toBe(503);
  });
});
