// Issue 3: the broker is stopped for 30 s during ingest: nothing is lost, the outbox grows while it is down
// and drains after it is back, without restarting the agent.
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { agentStatus, consume, kill9, setupAgent, spawnAgent } from './support/agent-process.ts';

const STACK = path.join(import.meta.dirname, '../../scripts/stack.sh');
const stack = (...args: string[]): void => {
  execFileSync('bash', [STACK, ...args], { stdio: 'inherit', timeout: 170_000 });
};

describe('broker outage', () => {
  it('keeps every record in the outbox while Kafka is down and ships them after', async () => {
    const setup = setupAgent('outage', (logs) => `  - { type: file, id: tail, dataset: lines, include: ["${logs}/app.log"] }\n`);
    const file = path.join(setup.logs, 'app.log');
    let written = 0;
    const write = (n: number): void => {
      let chunk = '';
      for (let i = 0; i < n; i++) chunk += `record ${written + i}\n`;
      appendFileSync(file, chunk);
      written += n;
    };
    const agent = spawnAgent(setup);
    try {
      write(5000);
      for (let i = 0; i < 60 && (await agentStatus(setup))?.shipper?.shipped !== 5000; i++) await sleep(500);
      expect((await agentStatus(setup))?.shipper?.shipped).toBe(5000);

      stack('svc', 'stop', 'kafka');
      const downAt = Date.now();
      let maxRows = 0;
      let sawBackoff = false;
      while (Date.now() - downAt < 30_000) {
        write(500);
        await sleep(1000);
        const status = await agentStatus(setup);
        maxRows = Math.max(maxRows, status?.outbox?.rows ?? 0);
        if (status?.shipper?.state === 'backoff') sawBackoff = true;
      }
      expect(sawBackoff).toBe(true);
      expect(maxRows).toBeGreaterThan(5000); // the outbox held what arrived while the broker was down
      stack('svc', 'start', 'kafka');
      write(5000);

      const deadline = Date.now() + 150_000;
      while ((await agentStatus(setup))?.outbox?.rows !== 0 || ((await agentStatus(setup))?.shipper?.shipped ?? 0) < written) {
        if (Date.now() > deadline) throw new Error(`outbox did not drain: ${JSON.stringify(await agentStatus(setup))}`);
        await sleep(1000);
      }
    } finally {
      await kill9(agent);
    }
    const seen = new Set<string>();
    await consume(
      `${setup.topicPrefix}lines`,
      (batch) => {
        for (const m of batch) seen.add((readWireEnvelope(m.key, m.value, m.headers).payload as { message: string }).message);
        return seen.size >= written;
      },
      120_000,
    );
    expect(seen.size).toBe(written);
  }, 480_000);
});
