// Issue 3: kill -9 the agent at random points while it tails 200k lines across three rotations; after a
// restart the topic holds every line, and every duplicate carries the same record id.
import { appendFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { agentStatus, consume, kill9, setupAgent, spawnAgent } from './support/agent-process.ts';

const TOTAL = 200_000;
const ROTATE_EVERY = 50_000; // → three rotations

describe('agent kill -9 during rotation', () => {
  it('ships every line exactly once by content, duplicates only with the same id', async () => {
    const setup = setupAgent('kill9', (logs) => `  - { type: file, id: tail, dataset: lines, include: ["${logs}/app.log*"], readChunkBytes: 262144 }\n`);
    const file = path.join(setup.logs, 'app.log');
    let written = 0;
    let rotations = 0;
    const writer = (async () => {
      while (written < TOTAL) {
        const n = Math.min(1000, TOTAL - written, ROTATE_EVERY - (written % ROTATE_EVERY));
        let chunk = '';
        for (let i = 0; i < n; i++) chunk += `line ${String(written + i).padStart(7, '0')} ${'x'.repeat(40)}\n`;
        appendFileSync(file, chunk);
        written += n;
        if (written % ROTATE_EVERY === 0 && written < TOTAL) {
          rotations++;
          renameSync(file, `${file}.${rotations}`);
        }
        await sleep(25);
      }
    })();
    let kills = 0;
    let agent = spawnAgent(setup);
    while (written < TOTAL || kills < 4) {
      await sleep(700 + Math.random() * 1500);
      await kill9(agent);
      kills++;
      agent = spawnAgent(setup);
    }
    await writer;
    expect(rotations).toBe(3);
    // Let the last incarnation catch up and drain its outbox.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const status = await agentStatus(setup);
      // Caught up: every file read to its end. (Not "this incarnation committed lines": an earlier one may
      // have committed them all before it was killed, leaving the last nothing to do.)
      const files = (status?.sources[0]?.details as { files?: Array<{ offset: number; size: number }> } | undefined)?.files ?? [];
      const readToEnd = files.length === rotations + 1 && files.every((f) => f.size > 0 && f.offset === f.size);
      if (status?.outbox?.rows === 0 && readToEnd && status.sources[0]?.state === 'running') {
        await sleep(1500);
        const again = await agentStatus(setup);
        if (again?.outbox?.rows === 0) break;
      }
      if (Date.now() > deadline) throw new Error(`agent did not drain: ${JSON.stringify(status)}`);
      await sleep(500);
    }
    const topic = `${setup.topicPrefix}lines`;
    const idsByLine = new Map<string, Set<string>>();
    let count = 0;
    await consume(topic, (batch) => {
      for (const m of batch) {
        count++;
        const envelope = readWireEnvelope(m.key, m.value, m.headers);
        const text = (envelope.payload as { message: string }).message;
        expect(m.key).toBe(envelope.id);
        let ids = idsByLine.get(text);
        if (!ids) idsByLine.set(text, (ids = new Set()));
        ids.add(envelope.id);
      }
      return idsByLine.size >= TOTAL;
    }, 150_000);
    const messages = { length: count };
    await kill9(agent);
    expect(kills).toBeGreaterThanOrEqual(4);
    expect(idsByLine.size).toBe(TOTAL);
    const conflicting = [...idsByLine.entries()].filter(([, ids]) => ids.size > 1);
    expect(conflicting).toEqual([]);
    console.log(JSON.stringify({ kills, messages: messages.length, distinctLines: idsByLine.size, duplicates: messages.length - idsByLine.size }));
  }, 600_000);
});
