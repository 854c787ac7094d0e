import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { parseConfig } from '../config/load-config.ts';
import type { MessageSender } from '../shipper/shipper.ts';
import { Agent } from './agent.ts';

const log = createLogger('test', { level: 'silent' });

function memorySender(into: string[]): () => MessageSender {
  return () => ({
    send: (messages) => {
      into.push(...messages.map((m) => (JSON.parse(m.value.toString()) as { payload: { message: string } }).payload.message));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
}

describe('Agent', () => {
  it('serves /status (secrets redacted), /metrics and /healthz behind its token, and reloads without loss', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-agent-'));
    mkdirSync(path.join(dir, 'logs'));
    const yaml = (extra: string) =>
      `agentId: t1\nkafka: { brokers: ["127.0.0.1:1"] }\nhttp: { listen: "127.0.0.1:0", token: "status-secret-123" }\nallowedRoots: [./logs]\n` +
      `sources:\n  - { type: file, id: a, dataset: app, include: ["./logs/*.log"], pollIntervalMs: 20 }\n${extra}`;
    const shipped: string[] = [];
    const agent = new Agent({ config: parseConfig(yaml(''), dir, {}), baseDir: dir, file: path.join(dir, 'agent.yaml') }, { log, createSender: memorySender(shipped) });
    writeFileSync(path.join(dir, 'logs', 'a.log'), 'one\ntwo\n');
    await agent.start();
    await waitFor(() => shipped.length === 2, { timeoutMs: 10_000, intervalMs: 20, what: 'first lines' });

    const url = agent.url!;
    expect((await fetch(`${url}/status`)).status).toBe(401);
    const res = await fetch(`${url}/status`, { headers: { authorization: 'Bearer status-secret-123' } });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain('status-secret-123');
    const status = JSON.parse(text) as { sources: Array<{ id: string; state: string }>; outbox: { rows: number }; shipper: { shipped: number } };
    expect(status.sources[0]).toMatchObject({ id: 'a', state: 'running' });
    expect(status.shipper.shipped).toBe(2);
    const auth = { headers: { authorization: 'Bearer status-secret-123' } };
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const metrics = await (await fetch(`${url}/metrics`, auth)).text();
    expect(metrics).toMatch(/sluice_agent_records_committed_total\{source="a"\} 2/);
    expect(metrics).toMatch(/sluice_agent_records_shipped_total\{dataset="app"\} 2/);
    expect(metrics).toMatch(/sluice_agent_outbox_rows 0/);
    expect((await fetch(`${url}/healthz`)).status).toBe(401);
    expect((await fetch(`${url}/healthz`, auth)).status).toBe(200);
    expect((await fetch(`${url}/nope`)).status).toBe(404);

    // Reload: source a unchanged keeps running; b is new. Lines written around the reload all arrive.
    appendFileSync(path.join(dir, 'logs', 'a.log'), 'three\n');
    writeFileSync(path.join(dir, 'logs', 'b.txt'), 'bee\n');
    const result = await agent.reload({
      config: parseConfig(yaml('  - { type: file, id: b, dataset: other, include: ["./logs/*.txt"], pollIntervalMs: 20 }\n'), dir, {}),
      baseDir: dir,
      file: path.join(dir, 'agent.yaml'),
    });
    expect(result).toEqual({ started: ['b'], stopped: [], unchanged: ['a'], failed: [] });
    appendFileSync(path.join(dir, 'logs', 'a.log'), 'four\n');
    await waitFor(() => shipped.length === 5, { timeoutMs: 10_000, intervalMs: 20, what: 'lines after reload' });
    expect([...shipped].sort()).toEqual(['bee', 'four', 'one', 'three', 'two']);

    // Changing a source restarts it from its checkpoint: nothing re-read, nothing skipped.
    const changed = await agent.reload({
      config: parseConfig(yaml('  - { type: file, id: b, dataset: other, include: ["./logs/*.txt"], pollIntervalMs: 30 }\n'), dir, {}),
      baseDir: dir,
      file: path.join(dir, 'agent.yaml'),
    });
    expect(changed.stopped).toEqual(['b']);
    appendFileSync(path.join(dir, 'logs', 'b.txt'), 'bee2\n');
    await waitFor(() => shipped.length === 6, { timeoutMs: 10_000, intervalMs: 20, what: 'line after restart of b' });
    expect(shipped.filter((s) => s === 'bee')).toHaveLength(1);

    await agent.stop(2000);
  });

  it('reports every source paused the same way in /status while the outbox is full; http-push answers 429 instead', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-agent-full-'));
    mkdirSync(path.join(dir, 'logs'));
    const yaml =
      `agentId: t2\nkafka: { brokers: ["127.0.0.1:1"] }\nhttp: { listen: "127.0.0.1:0", token: "status-secret-456" }\nallowedRoots: [./logs]\n` +
      `outbox: { maxRows: 100 }\n` +
      `sources:\n  - { type: file, id: tail, dataset: app, include: ["./logs/*.log"], pollIntervalMs: 20 }\n` +
      `  - { type: http-push, id: push, dataset: pushed, token: "push-secret-7890" }\n`;
    // Kafka never acknowledges: the outbox fills up and stays full.
    const hanging = (): MessageSender => ({ send: () => new Promise(() => undefined), close: () => Promise.resolve() });
    const agent = new Agent({ config: parseConfig(yaml, dir, {}), baseDir: dir, file: path.join(dir, 'agent.yaml') }, { log, createSender: hanging });
    writeFileSync(path.join(dir, 'logs', 'a.log'), Array.from({ length: 150 }, (_, i) => `line ${i}\n`).join(''));
    await agent.start();
    // The first commit fits any empty outbox; the next finds it over its 100 rows.
    await waitFor(() => agent.outbox.stats().rows === 150, { timeoutMs: 10_000, intervalMs: 20, what: 'first commit' });
    appendFileSync(path.join(dir, 'logs', 'a.log'), 'one more\n');
    const auth = { headers: { authorization: 'Bearer status-secret-456' } };
    type SourceStatus = { id: string; state: string; paused?: { since: string; reason: string }; lastError?: unknown };
    const sources = async (): Promise<SourceStatus[]> => ((await (await fetch(`${agent.url!}/status`, auth)).json()) as { sources: SourceStatus[] }).sources;
    const tail = await waitFor(async () => (await sources()).find((s) => s.id === 'tail' && s.state === 'paused'), { timeoutMs: 10_000, intervalMs: 20, what: 'tail paused' });
    expect(tail.paused).toEqual({ since: expect.any(String) as unknown, reason: expect.stringMatching(/^outbox full/) as unknown });
    expect(tail.lastError).toBeUndefined(); // waiting for room is not an error
    const push = await fetch(`${agent.url!}/v1/ingest/pushed`, { method: 'POST', headers: { authorization: 'Bearer push-secret-7890', 'content-type': 'application/json' }, body: '[{"a":1}]' });
    expect(push.status).toBe(429);
    expect(push.headers.get('retry-after')).toBe('1');
    expect((await sources()).find((s) => s.id === 'push')).toMatchObject({ state: 'running' });
    await agent.stop(0);
  });
});
