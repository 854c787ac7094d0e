import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
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

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
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
    await until(() => shipped.length === 2, 'first lines');

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
    expect(result).toEqual({ started: ['b'], stopped: [], unchanged: ['a'] });
    appendFileSync(path.join(dir, 'logs', 'a.log'), 'four\n');
    await until(() => shipped.length === 5, 'lines after reload');
    expect([...shipped].sort()).toEqual(['bee', 'four', 'one', 'three', 'two']);

    // Changing a source restarts it from its checkpoint: nothing re-read, nothing skipped.
    const changed = await agent.reload({
      config: parseConfig(yaml('  - { type: file, id: b, dataset: other, include: ["./logs/*.txt"], pollIntervalMs: 30 }\n'), dir, {}),
      baseDir: dir,
      file: path.join(dir, 'agent.yaml'),
    });
    expect(changed.stopped).toEqual(['b']);
    appendFileSync(path.join(dir, 'logs', 'b.txt'), 'bee2\n');
    await until(() => shipped.length === 6, 'line after restart of b');
    expect(shipped.filter((s) => s === 'bee')).toHaveLength(1);

    await agent.stop(2000);
  });
});
