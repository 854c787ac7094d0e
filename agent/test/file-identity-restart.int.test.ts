// Issue 8, item 5: file identity survives agent restarts. A real `sluice-agent run` process tails app.log*
// into a real Kafka topic; around a kill -9 or a clean stop the file is rotated (copytruncate or rename),
// and the topic is then counted by record id: every line present, no id twice, one id per line. The stores
// key rows by that id (ON CONFLICT DO NOTHING), so distinct ids in the topic are the rows they end up with.
import { appendFileSync, copyFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { KafkaConsumer, type IncomingMessage } from '@sluice/shared/node/kafka';
import { agentStatus, brokers, kill9, setupAgent, spawnAgent, type TestAgentSetup } from './support/agent-process.ts';

const lines = (from: number, to: number, prefix = 'line'): string =>
  Array.from({ length: to - from }, (_, i) => `${prefix} ${String(from + i).padStart(5, '0')} ${'x'.repeat(40)}\n`).join('');
const texts = (from: number, to: number, prefix = 'line'): string[] => lines(from, to, prefix).split('\n').slice(0, -1);

async function start(setup: TestAgentSetup): Promise<ChildProcess> {
  const agent = spawnAgent(setup);
  for (let i = 0; i < 200 && !(await agentStatus(setup)); i++) await sleep(50);
  return agent;
}

/** Until this agent process committed at least `count` lines, shipped all of it, and stayed quiet a while. */
async function shipped(setup: TestAgentSetup, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let quietSince: number | undefined;
  let last = -1;
  for (;;) {
    const status = await agentStatus(setup);
    const committed = (status?.sources[0]?.details as { linesCommitted?: number } | undefined)?.linesCommitted ?? 0;
    const settled = committed >= count && status?.outbox?.rows === 0 && committed === last;
    quietSince = settled ? (quietSince ?? Date.now()) : undefined;
    if (quietSince !== undefined && Date.now() - quietSince >= 1500) return;
    if (Date.now() > deadline) throw new Error(`agent did not ship ${count} lines: ${JSON.stringify(status)}`);
    last = committed;
    await sleep(200);
  }
}

async function stop(agent: ChildProcess, how: 'kill -9' | 'SIGTERM'): Promise<void> {
  if (how === 'kill -9') return kill9(agent);
  const exited = new Promise((resolve) => agent.once('exit', resolve));
  agent.kill('SIGTERM');
  await exited;
}

/** Every message of the topic: read until at least `expected` arrived and then nothing more for 3 s. */
async function readAll(topic: string, expected: number): Promise<IncomingMessage[]> {
  const consumer = new KafkaConsumer({ brokers, clientId: 'it-reader', groupId: `it-reader-${Math.random().toString(36).slice(2)}`, topics: [topic], from: 'earliest' });
  const messages: IncomingMessage[] = [];
  const iterator = consumer.messages();
  const deadline = Date.now() + 90_000;
  try {
    while (Date.now() < deadline) {
      const next = await Promise.race([iterator.next(), sleep(messages.length >= expected ? 3000 : 5000, undefined, { ref: false })]);
      if (next === undefined) {
        if (messages.length >= expected) break;
        continue;
      }
      if (next.done) break;
      messages.push(next.value);
    }
  } finally {
    await Promise.race([consumer.close(), sleep(5000)]);
  }
  return messages;
}

/** The exact count: each expected line once, under one id, and no other message. */
async function expectExactlyOnce(setup: TestAgentSetup, expected: string[]): Promise<void> {
  const messages = await readAll(`${setup.topicPrefix}lines`, expected.length);
  const timesById = new Map<string, number>();
  const idsByText = new Map<string, Set<string>>();
  for (const m of messages) {
    const envelope = readWireEnvelope(m.key, m.value, m.headers);
    expect(m.key).toBe(envelope.id);
    timesById.set(envelope.id, (timesById.get(envelope.id) ?? 0) + 1);
    const text = (envelope.payload as { message: string }).message;
    idsByText.set(text, (idsByText.get(text) ?? new Set()).add(envelope.id));
  }
  expect([...idsByText.entries()].filter(([, ids]) => ids.size > 1).map(([text, ids]) => `${text}: ${ids.size} ids`)).toEqual([]);
  expect([...timesById.entries()].filter(([, n]) => n > 1)).toEqual([]);
  expect([...idsByText.keys()].sort()).toEqual([...expected].sort());
  expect(messages).toHaveLength(expected.length);
}

const tail = (logs: string): string => `  - { type: file, id: tail, dataset: lines, include: ["${logs}/app.log*"] }\n`;

describe('file identity across agent restarts (real agent, real Kafka)', () => {
  for (const how of ['kill -9', 'SIGTERM'] as const) {
    it(`copytruncate while the agent is down (${how}): the copy continues under the original ids`, async () => {
      const setup = setupAgent('ident-ct', tail);
      const file = path.join(setup.logs, 'app.log');
      writeFileSync(file, lines(0, 300));
      let agent = await start(setup);
      await shipped(setup, 300);
      await stop(agent, how);
      appendFileSync(file, lines(300, 400)); // never read before the rotation: only the copy has them
      copyFileSync(file, `${file}.1`);
      truncateSync(file, 0);
      appendFileSync(file, lines(0, 50, 'after'));
      agent = await start(setup);
      await shipped(setup, 150);
      await stop(agent, 'SIGTERM');
      await expectExactlyOnce(setup, [...texts(0, 400), ...texts(0, 50, 'after')]);
    }, 180_000);
  }

  it('rename rotation while the agent is down (kill -9): the rotated file is finished, the new one read', async () => {
    const setup = setupAgent('ident-mv', tail);
    const file = path.join(setup.logs, 'app.log');
    writeFileSync(file, lines(0, 300));
    let agent = await start(setup);
    await shipped(setup, 300);
    await kill9(agent);
    appendFileSync(file, lines(300, 400));
    renameSync(file, `${file}.1`);
    writeFileSync(file, lines(0, 50, 'after'));
    agent = await start(setup);
    await shipped(setup, 150);
    await stop(agent, 'SIGTERM');
    await expectExactlyOnce(setup, [...texts(0, 400), ...texts(0, 50, 'after')]);
  }, 180_000);

  it('copytruncate while running, then kill -9 and restart: the copy is not read again', async () => {
    const setup = setupAgent('ident-run', tail);
    const file = path.join(setup.logs, 'app.log');
    writeFileSync(file, lines(0, 300));
    let agent = await start(setup);
    await shipped(setup, 300);
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    appendFileSync(file, lines(0, 50, 'after'));
    await shipped(setup, 350);
    await kill9(agent);
    agent = await start(setup);
    appendFileSync(file, lines(50, 70, 'after'));
    await shipped(setup, 20);
    await stop(agent, 'SIGTERM');
    await expectExactlyOnce(setup, [...texts(0, 300), ...texts(0, 70, 'after')]);
  }, 180_000);
});
