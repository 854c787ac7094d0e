import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorBody } from '@sluice/shared/errors';
import { MemoryContext, type MemoryContextOptions } from '../../../test/support/memory-context.ts';
import type { AgentHttpServer } from '../../http/server.ts';
import { HttpPushSource } from './http-push-source.ts';
import { httpPushConfig } from '../../../test/support/source-config.ts';
import { servePushSource } from '../../../test/support/push-server.ts';

const TOKEN = 'push-token-0123456789';
let servers: AgentHttpServer[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
});

async function startPush(options: MemoryContextOptions = {}, config: { maxBodyBytes?: number; maxRecords?: number } = {}) {
  const source = new HttpPushSource(httpPushConfig({ type: 'http-push', id: 'push1', dataset: 'events', token: TOKEN, ...config }));
  const ctx = new MemoryContext({ sourceId: 'push1', ...options });
  await source.start(ctx);
  const { server, port } = await servePushSource(source);
  servers.push(server);
  const base = `http://127.0.0.1:${port}`;
  const post = async (body: string | Uint8Array, headers: Record<string, string> = {}, dataset = 'events') => {
    const response = await fetch(`${base}/v1/ingest/${dataset}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> & Partial<ErrorBody> };
  };
  return { source, ctx, post };
}

describe('http-push', () => {
  it('accepts a JSON array once it is committed, with record ids from the request id', async () => {
    const { ctx, post } = await startPush();
    const res = await post(JSON.stringify([{ a: 1 }, { a: 2 }]), { 'idempotency-key': 'batch-42' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, parseErrors: 0, requestId: 'batch-42' });
    expect(ctx.fsyncCommits).toBe(1); // the 200 promises the batch survives a power loss
    expect(ctx.envelopes().map((e) => [e.id, e.payload])).toEqual([
      ['agent1:push1:h:batch-42:0', { a: 1 }],
      ['agent1:push1:h:batch-42:1', { a: 2 }],
    ]);
  });

  it('a client retry with the same Idempotency-Key yields the same record ids', async () => {
    const { ctx, post } = await startPush();
    await post('[{"a":1}]', { 'idempotency-key': 'weird:key with spaces' });
    await post('[{"a":1}]', { 'idempotency-key': 'weird:key with spaces' });
    const [first, second] = ctx.envelopes();
    expect(first?.id).toBe(second?.id);
    const fresh = await post('[{"a":1}]');
    expect(fresh.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('401 without a token, 403 with a wrong one; nothing committed', async () => {
    const { ctx, post } = await startPush();
    const missing = await post('[1]', { authorization: '' });
    expect(missing.status).toBe(401);
    expect(missing.body.error?.name).toBe('UnauthorizedError');
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await post('[1]', { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error?.name).toBe('ForbiddenError');
    expect(ctx.committed).toHaveLength(0);
  });

  it('413 with a clear body over maxBodyBytes or maxRecords', async () => {
    const { ctx, post } = await startPush({}, { maxBodyBytes: 100, maxRecords: 3 });
    const big = await post(JSON.stringify([{ text: 'x'.repeat(200) }]));
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ name: 'PayloadTooLargeError', message: 'request body is over the limit of 100 bytes' });
    const many = await post('[1,2,3,4]');
    expect(many.status).toBe(413);
    expect(many.body.error?.message).toMatch(/4 records is over the limit of 3/);
    expect(ctx.committed).toHaveLength(0);
  });

  it('NDJSON: a bad line becomes a parseError record, the batch is accepted', async () => {
    const { ctx, post } = await startPush();
    const res = await post('{"a":1}\n{nope\n\n{"a":3}\n', { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 3, parseErrors: 1 });
    const records = ctx.envelopes();
    expect(records[1]?.parseError).toMatchObject({ raw: '{nope', reason: expect.stringMatching(/^line 2 is not JSON: /) as unknown });
    expect(records[2]?.payload).toEqual({ a: 3 });
  });

  it('a 5,000-deep item is refused with its own reason (200, listed in errors), never a 503; the others are kept', async () => {
    const { ctx, post } = await startPush();
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const res = await post(`[{"a":1},${deep},{"a":2}]`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 3, parseErrors: 1, errors: [{ index: 1, reason: 'item 1 is nested more than 16 levels deep' }] });
    const records = ctx.envelopes();
    expect(records.map((r) => r.payload)).toEqual([{ a: 1 }, null, { a: 2 }]);
    expect(records[1]?.parseError).toEqual({ reason: 'item 1 is nested more than 16 levels deep', raw: deep, rawEncoding: 'utf8' });
    // A lone deep body is refused the same way, not answered 503 + Retry-After.
    const lone = await post(deep, { 'content-type': 'application/x-ndjson' });
    expect(lone.status).toBe(200);
    expect(lone.body).toMatchObject({ parseErrors: 1 });
  });

  it('invalid UTF-8 becomes a parseError record with the raw bytes in base64, not text with replacement characters', async () => {
    const { ctx, post } = await startPush();
    const bad = Buffer.concat([Buffer.from('{"s":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const res = await post(Buffer.concat([Buffer.from('{"s":"ok"}\n'), bad, Buffer.from('\n')]), { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(200);
    const [ok, refused] = ctx.envelopes();
    expect(ok?.payload).toEqual({ s: 'ok' });
    expect(refused?.parseError).toEqual({ reason: expect.stringMatching(/^line 2 is not valid UTF-8/) as unknown, raw: bad.toString('base64'), rawEncoding: 'base64' });
    expect(JSON.stringify(ctx.envelopes())).not.toContain('\ufffd');
  });

  it('1e400, integers beyond 2^53 and NUL characters are refused per item, with the reason', async () => {
    const { ctx, post } = await startPush();
    const res = await post('[{"n":1e400},{"n":12345678901234567890},{"s":"a\\u0000"},{"n":42}]');
    expect(res.status).toBe(200);
    expect((res.body.errors as Array<{ reason: string }>).map((e) => e.reason)).toEqual([
      'item 0: payload.n: not a finite number',
      expect.stringMatching(/^item 1: payload\.n: number 12345678901234567000 is beyond/),
      expect.stringMatching(/^item 2: payload\.s: contains a NUL character/),
    ]);
    expect(ctx.envelopes().at(-1)?.payload).toEqual({ n: 42 });
  });

  it('a 5 MB record is refused at the door (over maxRecordBytes), kept truncated with its reason, the batch accepted', async () => {
    const { ctx, post } = await startPush();
    const res = await post(JSON.stringify([{ blob: 'x'.repeat(5 * 1024 * 1024) }, { a: 1 }]));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ parseErrors: 1, errors: [{ index: 0, reason: expect.stringMatching(/^record is \d+ bytes, over maxRecordBytes \(1048576\)/) as unknown }] });
    expect(ctx.committed.every((m) => m.value.length <= 1024 * 1024)).toBe(true);
    expect(ctx.envelopes()[1]?.payload).toEqual({ a: 1 });
  });

  it('invalid JSON or an unknown content-type is a 400 InputError; an unknown dataset is 404', async () => {
    const { post } = await startPush();
    const bad = await post('[{"a":');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.name).toBe('InputError');
    expect((await post('a,b', { 'content-type': 'text/csv' })).status).toBe(400);
    expect((await post('[1]', {}, 'other')).status).toBe(404);
  });

  it('outbox full: 429 with Retry-After, nothing committed; accepted again once the shipper caught up', async () => {
    const { ctx, post } = await startPush({ maxRows: 2, autoAck: false });
    expect((await post('[1,2]')).status).toBe(200);
    const full = await post('[3]');
    expect(full.status).toBe(429);
    expect(full.headers.get('retry-after')).toBe('1');
    // Named for what it is (the client's own pace), so a client can tell it from "the agent is in trouble" (503).
    expect(full.body.error?.name).toBe('TooManyRequestsError');
    expect(ctx.committed).toHaveLength(2);
    ctx.ack();
    expect((await post('[3]')).status).toBe(200);
    expect(ctx.committed).toHaveLength(3);
  });

  it('503 with Retry-After when the source is stopped', async () => {
    const { source, post } = await startPush();
    await source.stop();
    const res = await post('[1]');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
  });
});
