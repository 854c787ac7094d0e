// SIGTERM drains: the agent stops its sources, ships what is in the outbox, exits 0, and the topic holds
// every line.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../src/outbox/outbox.ts';
import { agentStatus, consume, setupAgent, spawnAgent } from './support/agent-process.ts';

describe('SIGTERM', () => {
  it('drains the outbox to Kafka before exiting', async () => {
    const setup = setupAgent('sigterm', (logs) => `  - { type: file, id: tail, dataset: lines, include: ["${logs}/*.log"] }\n`);
    const agent = spawnAgent(setup);
    for (let i = 0; i < 100 && !(await agentStatus(setup)); i++) await sleep(100);
    writeFileSync(path.join(setup.logs, 'app.log'), Array.from({ length: 20_000 }, (_, i) => `drain ${i}\n`).join(''));
    for (let i = 0; i < 200; i++) {
      const lines = ((await agentStatus(setup))?.sources[0]?.details as { linesCommitted?: number } | undefined)?.linesCommitted;
      if (lines === 20_000) break;
      await sleep(50);
    }
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    const outbox = new Outbox({ file: path.join(setup.dir, 'data', 'outbox.db'), maxBytes: 1 << 30, maxRows: 1_000_000, synchronous: 'FULL' });
    expect(outbox.stats().rows).toBe(0);
    outbox.close();
    const seen = new Set<string>();
    await consume(`${setup.topicPrefix}lines`, (batch) => {
      for (const m of batch) seen.add(m.key ?? '');
      return seen.size >= 20_000;
    }, 60_000);
    expect(seen.size).toBe(20_000);
  }, 240_000);
});
