/**
 * mqtt source → real outbox → real Kafka, messages published by mosquitto_pub: exact counts with distinct
 * ids, topic levels as fields, messages queued in the persistent session while the source was stopped,
 * and a broker restart (SIGTERM, persistence) while the outbox is full and PUBACKs are withheld; a password
 * file, and TLS with a client certificate the broker requires.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { TEST_TOPIC_PREFIX } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import type { RuntimeSourceContext } from '../src/runtime/source-context.ts';
import { MqttSource, defaultClientId } from '../src/sources/mqtt/mqtt-source.ts';
import { makeClientCertificate, makeTestCertificates } from '@sluice/shared/node/testing/test-ca';
import { publishLines, removeSession, startPrivateBroker } from './support/mosquitto.ts';
import { mqttConfig, type MqttSourceInput } from './support/source-config.ts';
import { startSourcePipeline } from './support/source-pipeline.ts';
import { readTopic } from './support/topic-reader.ts';

const stack = loadStackEnv();
const brokers = stack.kafkaBrokers;
const AGENT = 'it-agent';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function envelopes(messages: readonly IncomingMessage[]): Envelope[] {
  return messages.map((m) => readWireEnvelope(m.key, m.value, m.headers));
}
const distinctIds = (messages: readonly IncomingMessage[]): number => new Set(envelopes(messages).map((e) => e.id)).size;
const seqs = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => JSON.stringify({ seq: from + i, c: 20 + ((from + i) % 7) }));

async function setup(name: string, url: string, input: Omit<MqttSourceInput, 'type' | 'id' | 'dataset' | 'url'>) {
  const run = randomBytes(4).toString('hex');
  const work = await mkdtemp(join(tmpdir(), `sluice-mqtt-${name}-`));
  cleanup.push(() => rm(work, { recursive: true, force: true }));
  const id = `mqtt-${name}-${run}`;
  const dataset = `mqtt_${name}_${run}`;
  const config = mqttConfig({ type: 'mqtt', id, dataset, url, ...input });
  cleanup.push(() => removeSession(url, defaultClientId(AGENT, id)).catch(() => undefined));
  return { run, work, config, topic: topicForDataset(dataset, TEST_TOPIC_PREFIX) };
}

async function connected(source: MqttSource): Promise<void> {
  await waitFor(() => source.status().caughtUp === true && source.status().details?.connection === 'connected', 20_000, 'the mqtt source to subscribe');
}

describe('mqtt source → Kafka', () => {
  it('ships every QoS 1 message once with a distinct id, topic levels as fields, and what was queued while it was stopped', async () => {
    const s = await setup('count', stack.mqttUrl, { topics: ['sluice-it/+run/site/+site/sensor/+sensor'], topicField: 'topic' });
    const base = `sluice-it/${s.run}/site`;
    const first = new MqttSource(s.config, { baseDir: s.work });
    const pipeline = await startSourcePipeline({ dir: join(s.work, 'data'), brokers, source: first, agentId: AGENT });
    cleanup.push(() => pipeline.stop(10_000));
    await connected(first);

    const N = 3000;
    await Promise.all([publishLines(stack.mqttUrl, `${base}/berlin/sensor/t1`, seqs(N / 2)), publishLines(stack.mqttUrl, `${base}/paris/sensor/t2`, seqs(N / 2, N / 2))]);
    await waitFor(() => first.status().details?.acknowledged === N, 60_000, `${N} messages acknowledged`);
    expect(first.status().details).toMatchObject({ received: N, committed: N, parseErrors: 0, connection: 'connected', breaker: 'closed' });
    // One commit (one fsync) per batch, not per message.
    expect(first.status().details?.batches as number).toBeLessThan(N / 2);
    await pipeline.stop(30_000);

    // Published while no client was connected: kept in the persistent session, delivered on the next start.
    const M = 500;
    await publishLines(stack.mqttUrl, `${base}/berlin/sensor/t1`, seqs(M, N));
    const second = new MqttSource(s.config, { baseDir: s.work });
    const again = await startSourcePipeline({ dir: join(s.work, 'data'), brokers, source: second, agentId: AGENT });
    cleanup.push(() => again.stop(10_000));
    await waitFor(() => second.status().details?.acknowledged === M, 60_000, `${M} queued messages acknowledged`);
    expect(second.status().details?.sessionPresent).toBe(true);

    const messages = await readTopic(brokers, s.topic, (m) => distinctIds(m) >= N + M);
    const all = envelopes(messages);
    expect(new Set(all.map((e) => e.id)).size).toBe(N + M);
    expect(new Set(all.map((e) => (e.payload as { seq: number }).seq)).size).toBe(N + M);
    const one = all.find((e) => (e.payload as { seq: number }).seq === 1)!;
    expect(one.payload).toEqual({ seq: 1, c: 21, run: s.run, site: 'berlin', sensor: 't1', topic: `${base}/berlin/sensor/t1` });
    expect(one.source).toMatchObject({ kind: 'mqtt', topic: `${base}/berlin/sensor/t1`, broker: new URL(stack.mqttUrl).host });
    expect(one.id).toMatch(new RegExp(`^${AGENT}:${s.config.id}:m:[0-9a-f]{32}$`));
  });

  it('loses and duplicates nothing when the broker restarts while the outbox is full and PUBACKs are withheld', async () => {
    const brokerDir = await mkdtemp(join(tmpdir(), 'sluice-mosquitto-'));
    cleanup.push(() => rm(brokerDir, { recursive: true, force: true }));
    const broker = await startPrivateBroker(brokerDir);
    cleanup.push(() => broker.stop());
    const s = await setup('restart', broker.url, { topics: ['sluice-it/+run/#'], maxInFlight: 50, reconnect: { minDelayMs: 100, maxDelayMs: 500 } });
    const source = new MqttSource(s.config, { baseDir: s.work });
    const pipeline = await startSourcePipeline({ dir: join(s.work, 'data'), brokers, source, agentId: AGENT, maxRows: 300, holdShipper: true });
    cleanup.push(() => pipeline.stop(10_000));
    await connected(source);

    const N = 2000;
    await publishLines(broker.url, `sluice-it/${s.run}/a`, seqs(N));
    // The outbox holds 300 rows and nothing ships: the source waits for room with PUBACKs withheld.
    const runtime = pipeline.ctx as RuntimeSourceContext;
    await waitFor(() => runtime.status(source.status()).state === 'paused', 30_000, 'the source to pause on the full outbox');
    const before = source.status().details!;
    expect(pipeline.outbox.stats().rows).toBeGreaterThan(0);
    expect(before.acknowledged as number).toBeLessThan(N);

    await broker.stop();
    await waitFor(() => source.status().details?.connection === 'backoff', 10_000, 'the source to see the broker gone');
    expect(source.status().details?.breaker).toBe('open');
    await broker.start();
    pipeline.shipper.start();
    // At least N: a PUBACK written just before the broker went down may not have reached it (then it is sent again).
    await waitFor(() => (source.status().details?.acknowledged as number) >= N && pipeline.outbox.stats().rows === 0, 90_000, 'every message acknowledged and shipped');
    const details = source.status().details!;
    expect(details).toMatchObject({ connection: 'connected', sessionPresent: true });
    expect(details.reconnects as number).toBeGreaterThanOrEqual(1);

    const messages = await readTopic(brokers, s.topic, (m) => distinctIds(m) >= N);
    const all = envelopes(messages);
    expect(new Set(all.map((e) => e.id)).size).toBe(N);
    const bySeq = new Map<number, Set<string>>();
    for (const e of all) {
      const seq = (e.payload as { seq: number }).seq;
      bySeq.set(seq, (bySeq.get(seq) ?? new Set()).add(e.id));
    }
    expect(bySeq.size).toBe(N);
    expect([...bySeq.values()].filter((ids) => ids.size > 1)).toEqual([]);
    console.log(JSON.stringify({ test: 'mqtt broker restart', published: N, kafkaMessages: messages.length, distinct: bySeq.size, redeliveries: details.redeliveries, skipped: details.redeliveriesSkipped, acksDropped: details.acksDropped }));
  });

  it('backs off instead of redialling in a loop when two clients share a client id', async () => {
    const brokerDir = await mkdtemp(join(tmpdir(), 'sluice-mosquitto-flap-'));
    cleanup.push(() => rm(brokerDir, { recursive: true, force: true }));
    const broker = await startPrivateBroker(brokerDir);
    cleanup.push(() => broker.stop());
    const s = await setup('flap', broker.url, { topics: ['sluice-it/+run/#'], clientId: 'sluice-it-shared', reconnect: { minDelayMs: 200, maxDelayMs: 1000 } });
    const sources = [new MqttSource(s.config, { baseDir: s.work }), new MqttSource(s.config, { baseDir: s.work })];
    for (const [i, source] of sources.entries()) {
      const pipeline = await startSourcePipeline({ dir: join(s.work, `data-${i}`), brokers, source, agentId: AGENT });
      cleanup.push(() => pipeline.stop(1000));
    }
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const reconnects = sources.map((source) => source.status().details?.reconnects as number);
    // Without backoff each would take the session back every few milliseconds: thousands in 4 s.
    expect(reconnects[0]! + reconnects[1]!).toBeGreaterThan(0);
    expect(reconnects[0]! + reconnects[1]!).toBeLessThan(40);
    console.log(JSON.stringify({ test: 'mqtt shared client id', reconnects, errors: sources.map((source) => source.status().lastError?.message) }));
    expect(sources.map((source) => source.status().lastError?.message ?? '').join('\n')).toMatch(/another client with this client id/);
  });

  it('authenticates with a password file, keeps the password out of /status, and backs off on a wrong one', async () => {
    const brokerDir = await mkdtemp(join(tmpdir(), 'sluice-mosquitto-auth-'));
    cleanup.push(() => rm(brokerDir, { recursive: true, force: true }));
    const passwd = join(brokerDir, 'passwd');
    await writeFile(passwd, '');
    execFileSync('mosquitto_passwd', ['-b', passwd, 'gateway', 's3cret-pass']);
    const broker = await startPrivateBroker(brokerDir, { passwordFile: passwd });
    cleanup.push(() => broker.stop());
    const s = await setup('auth', broker.url, { topics: ['sluice-it/+run/#'], username: 'gateway', passwordFile: 'mqtt-password', format: 'text', reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    await writeFile(join(s.work, 'mqtt-password'), 's3cret-pass\n');
    const source = new MqttSource(s.config, { baseDir: s.work });
    const pipeline = await startSourcePipeline({ dir: join(s.work, 'data'), brokers, source, agentId: AGENT });
    cleanup.push(() => pipeline.stop(10_000));
    await connected(source);
    await publishLines(broker.url, `sluice-it/${s.run}/x`, ['plain text'], { username: 'gateway', password: 's3cret-pass' });
    const [message] = await readTopic(brokers, s.topic, (m) => m.length >= 1);
    expect(envelopes([message!])[0]!.payload).toEqual({ message: 'plain text', run: s.run });
    expect(JSON.stringify(source.status())).not.toContain('s3cret');

    const wrong = mqttConfig({ ...s.config, id: `${s.config.id}-wrong`, passwordFile: undefined, password: 'not-it' });
    const refused = new MqttSource(wrong, { baseDir: s.work });
    const other = await startSourcePipeline({ dir: join(s.work, 'data-wrong'), brokers, source: refused, agentId: AGENT });
    cleanup.push(() => other.stop(1000));
    await waitFor(() => refused.status().state === 'backoff' && refused.status().lastError !== undefined, 10_000, 'the refused source to back off');
    expect(refused.status().lastError?.message).toMatch(/Not authorized|Bad User Name or Password/i);
    expect(refused.status().details?.breaker).toBe('open');
  });

  it('connects over TLS with a client certificate the broker requires, and backs off without one', async () => {
    const brokerDir = await mkdtemp(join(tmpdir(), 'sluice-mosquitto-tls-'));
    cleanup.push(() => rm(brokerDir, { recursive: true, force: true }));
    const certs = await makeTestCertificates(brokerDir);
    const client = await makeClientCertificate(brokerDir, 'gateway-01');
    const broker = await startPrivateBroker(brokerDir, { tls: certs });
    cleanup.push(() => broker.stop());
    expect(broker.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:/);
    const tls = { ca: 'tls/ca.pem', cert: 'tls/gateway.pem', key: 'tls/gateway-key.pem' };
    const s = await setup('tls', broker.url, { topics: ['sluice-it/+run/#'], tls, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    // Relative paths resolve against the config's folder.
    await mkdir(join(s.work, 'tls'));
    await Promise.all([copyFile(certs.caFile, join(s.work, tls.ca)), copyFile(client.certFile, join(s.work, tls.cert)), copyFile(client.keyFile, join(s.work, tls.key))]);
    const source = new MqttSource(s.config, { baseDir: s.work });
    const pipeline = await startSourcePipeline({ dir: join(s.work, 'data'), brokers, source, agentId: AGENT });
    cleanup.push(() => pipeline.stop(10_000));
    await connected(source);
    expect(source.broker).toBe(new URL(broker.url).host);
    await publishLines(broker.url, `sluice-it/${s.run}/t`, ['{"over":"tls"}'], { tls: { ca: certs.caFile, cert: client.certFile, key: client.keyFile } });
    const [message] = await readTopic(brokers, s.topic, (m) => m.length >= 1);
    expect(envelopes([message!])[0]).toMatchObject({ payload: { over: 'tls', run: s.run }, source: { kind: 'mqtt', broker: new URL(broker.url).host } });

    // The CA alone is not enough: the broker ends the handshake, and the source waits and tries again.
    const anonymous = mqttConfig({ ...s.config, id: `${s.config.id}-nocert`, tls: { ca: tls.ca } });
    const refused = new MqttSource(anonymous, { baseDir: s.work });
    const other = await startSourcePipeline({ dir: join(s.work, 'data-nocert'), brokers, source: refused, agentId: AGENT });
    cleanup.push(() => other.stop(1000));
    await waitFor(() => refused.status().state === 'backoff' && refused.status().lastError !== undefined, 10_000, 'the source without a client certificate to back off');
    expect(refused.status().details).toMatchObject({ connection: 'backoff', breaker: 'open' });
    expect(refused.status().details?.acknowledged).toBe(0);
    expect(refused.status().lastError?.message).toMatch(/certificate required/);
    console.log(JSON.stringify({ test: 'mqtt tls without a client certificate', lastError: refused.status().lastError?.message }));
  });
});
