// Helpers for the agent's real-Kafka integration tests: a config in a temp folder, the agent as a child
// process (so it can be kill -9'd), and a consumer that reads a topic back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaConsumer, type IncomingMessage } from '@sluice/shared/node/kafka';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';

export const brokers = loadStackEnv().kafkaBrokers;
const BIN = path.join(import.meta.dirname, '../../bin/sluice-agent.js');

export interface TestAgentSetup {
  dir: string;
  logs: string;
  configFile: string;
  topicPrefix: string;
  port: number;
}

export function setupAgent(name: string, sourcesYaml: (logs: string) => string, extraYaml = ''): TestAgentSetup {
  const dir = mkdtempSync(path.join(tmpdir(), `sluice-it-${name}-`));
  const logs = path.join(dir, 'logs');
  mkdirSync(logs);
  const suffix = Math.random().toString(36).slice(2, 8);
  const topicPrefix = testTopicPrefix(`it_${name}_${suffix}`);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const configFile = path.join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    `agentId: it-${name}\ndataDir: ./data\nkafka:\n  brokers: ${JSON.stringify(brokers)}\n  topicPrefix: "${topicPrefix}"\n` +
      `http:\n  listen: 127.0.0.1:${port}\nallowedRoots: [./logs]\n${extraYaml}sources:\n${sourcesYaml(logs)}`,
  );
  return { dir, logs, configFile, topicPrefix, port };
}

export function spawnAgent(setup: TestAgentSetup): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'run', '--config', setup.configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
  });
  return child;
}

export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export async function agentStatus(setup: TestAgentSetup): Promise<{ outbox?: { rows: number }; shipper?: { shipped: number; state: string }; sources: Array<Record<string, unknown>> } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${setup.port}/status`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as never;
  } catch {
    return undefined;
  }
}

/** Reads `topic` from the beginning, handing each new message to `take`, until it returns true or the timeout. */
export async function consume(topic: string, take: (fresh: IncomingMessage[]) => boolean, timeoutMs: number): Promise<number> {
  const consumer = new KafkaConsumer({ brokers, clientId: 'it-reader', groupId: `it-reader-${Math.random().toString(36).slice(2)}`, topics: [topic], from: 'earliest' });
  let count = 0;
  let done = false;
  const deadline = Date.now() + timeoutMs;
  const iterator = consumer.messages();
  // One timer for the whole read (a timer per message would pile up hundreds of thousands of them).
  const timedOut = sleep(timeoutMs, undefined, { ref: false }).then(() => undefined);
  try {
    while (!done && Date.now() < deadline) {
      const next = await Promise.race([iterator.next(), timedOut]);
      if (!next || next.done) break;
      count++;
      done = take([next.value]);
    }
  } finally {
    await Promise.race([consumer.close(), sleep(5000)]);
  }
  return count;
}
