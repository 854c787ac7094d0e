import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { Outbox } from '../outbox/outbox.ts';
import { AgentMetrics } from './metrics.ts';
import { createSourceContext } from './source-context.ts';

const log = createLogger('test', { level: 'silent' });
const msg = (i: number) => ({ topic: 'sluice.t', key: `k${i}`, value: Buffer.from(String(i)), headers: {} });
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

function setup(maxRows: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-context-'));
  const outbox = new Outbox({ file: path.join(dir, 'outbox.db'), maxBytes: 1 << 30, maxRows, synchronous: 'NORMAL' });
  const abort = new AbortController();
  const ctx = createSourceContext({ agentId: 'a1', sourceId: 's1', outbox, log, signal: abort.signal, metrics: new AgentMetrics({ defaultMetrics: false }), topicPrefix: 'sluice.' });
  cleanup.push(() => {
    abort.abort();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { outbox, abort, ctx };
}

describe('SourceContext backpressure', () => {
  it('commit() waits for room while the outbox is full, and the runtime reports the source paused meanwhile', async () => {
    const { outbox, ctx } = setup(10);
    await ctx.commit(Array.from({ length: 10 }, (_, i) => msg(i)), []);
    let done = false;
    const waiting = ctx.commit([msg(10)], [{ sourceId: 's1', key: 'pos', value: '11' }]).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    expect(ctx.checkpoint('pos')).toBeUndefined(); // nothing of the waiting commit was written
    const paused = ctx.status({ state: 'running', details: { x: 1 } });
    expect(paused).toMatchObject({ state: 'paused', details: { x: 1 }, paused: { reason: expect.stringMatching(/^outbox full/) as unknown } });
    expect(Date.parse(paused.paused!.since)).not.toBeNaN();
    outbox.acknowledge(outbox.read(0, 100, Number.MAX_SAFE_INTEGER));
    await waiting;
    expect(ctx.checkpoint('pos')).toBe('11');
    // No longer paused; its first commit is on record (a fleet apply's proof that the source works).
    expect(ctx.status({ state: 'running' })).toEqual({ state: 'running', firstCommitAt: expect.any(String) as unknown, lastCommitAt: expect.any(String) as unknown });
  });

  it('tryCommit() answers a full outbox at once, writing nothing and never reporting a pause', () => {
    const { ctx } = setup(5);
    expect(ctx.tryCommit(Array.from({ length: 5 }, (_, i) => msg(i)), [])).toEqual({ committed: true });
    const refused = ctx.tryCommit([msg(5)], [{ sourceId: 's1', key: 'pos', value: '6' }]);
    expect(refused).toMatchObject({ committed: false, full: 'bounds', message: expect.stringMatching(/^outbox full/) as unknown });
    expect(ctx.checkpoint('pos')).toBeUndefined();
    expect(ctx.status({ state: 'running' }).state).toBe('running');
  });

  it('a stopped source commits nothing more: a waiting commit rejects, a new one too', async () => {
    const { abort, ctx } = setup(1);
    await ctx.commit([msg(0)], []);
    const waiting = ctx.commit([msg(1)], []);
    abort.abort(new Error('source stopped'));
    await expect(waiting).rejects.toThrow('source stopped');
    expect(ctx.status({ state: 'stopped' }).state).toBe('stopped');
    await expect(ctx.commit([], [{ sourceId: 's1', key: 'pos', value: '1' }])).rejects.toThrow('source stopped');
    expect(ctx.checkpoint('pos')).toBeUndefined();
  });
});
