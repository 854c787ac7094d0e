/**
 * Both envelope forms on the wire (docs/envelope.md) through the real consumer into PostgreSQL: a file line
 * shipped as v1 and as v2 is one record with one row; the real `sluice-agent run` ships v2 by default and v1
 * when `kafka.envelope: v1` says so, to the same rows; malformed v2 is dead-lettered for good with what a
 * replay needs (record id, headers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KAFKA_HEADERS, type Envelope } from '@sluice/shared/envelope';
import { toCompact } from '@sluice/shared/envelope-wire';
import { KafkaProducer, type OutgoingMessage } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { stopProcess } from '@sluice/shared/node/testing/processes';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { createTopics, envelopeMessage, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';

const AGENT = path.join(import.meta.dirname, '../../agent/bin/sluice-agent.js');
const schema = { type: 'object', required: ['message'], properties: { message: { type: 'string' } } };
const now = '2026-12-03T18:00:00.000Z';

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let running: RunningConsumer | undefined;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-envelope-wire-'));
const agents: ChildProcess[] = [];

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema);
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'envelope-wire-int' });
  const store = new DatasetStore(state.pool);
  for (const name of ['wire_lines', 'wire_agent_v2', 'wire_agent_v1']) await store.create({ name, sinks: { postgres: { enabled: true } } }, schema);
  await createTopics(config, [...['wire_lines', 'wire_agent_v2', 'wire_agent_v1'].map((d) => `${config.topicPrefix}${d}`), config.dlqTopic]);
  running = await startConsumer(config, createLogger('envelope-wire-int', { level: 'warn' }));
});

afterAll(async () => {
  for (const agent of agents) await stopProcess(agent);
  await running?.stop();
  await producer?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const fileLine = (uid: string, i: number): Envelope => ({
  id: `edge-1:logs:f:${uid}:${i * 100}`,
  dataset: 'wire_lines',
  agentId: 'edge-1',
  source: { id: 'logs', kind: 'file', path: '/var/log/app.log', offset: i * 100 },
  eventTime: now,
  ingestTime: now,
  payload: { message: `line ${i} "quoted" ü` },
});

function v2Message(e: Envelope): OutgoingMessage {
  const { value, headers } = toCompact(e, true);
  return { topic: `${config.topicPrefix}${e.dataset}`, key: e.id, value: Buffer.from(value), headers };
}

type Row = { id: string; event_time: Date; ingest_time: Date; agent_id: string; schema_version: number | null; payload: unknown; message: string };
async function rows(table: string, like = '%'): Promise<Row[]> {
  return (await state.pool.query<Row>(`SELECT * FROM ${config.dataSchema}.${table} WHERE id LIKE $1 ORDER BY id`, [like])).rows;
}

describe('envelope v1 and v2 through the consumer into PostgreSQL', () => {
  it('the same lines as v1 and as v2 make the same rows, and a line sent in both forms is one row', async () => {
    const topic = `${config.topicPrefix}wire_lines`;
    const lines = Array.from({ length: 50 }, (_, i) => i);
    await producer.send(lines.map((i) => envelopeMessage(topic, fileLine('aaaa', i))));
    await producer.send(lines.map((i) => v2Message(fileLine('bbbb', i))));
    // The v1 lines again, now as v2: the same ids, so no new rows.
    await producer.send(lines.map((i) => v2Message(fileLine('aaaa', i))));
    await waitFor('100 rows', async () => (await rows('wire_lines')).length, (n) => n >= 100);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // the repeats, consumed by now, added nothing
    expect(await rows('wire_lines')).toHaveLength(100);
    expect((await state.pool.query(`SELECT 1 FROM dlq WHERE record_id LIKE '%:aaaa:%' OR record_id LIKE '%:bbbb:%'`)).rowCount).toBe(0);
    const [v1Rows, v2Rows] = [await rows('wire_lines', '%:aaaa:%'), await rows('wire_lines', '%:bbbb:%')];
    expect(v1Rows).toHaveLength(50);
    expect(v2Rows.map((r) => ({ ...r, id: r.id.replace(':bbbb:', ':aaaa:') }))).toEqual(v1Rows);
    expect(v1Rows.find((r) => r.id.endsWith(':300'))).toMatchObject({ id: 'edge-1:logs:f:aaaa:300', agent_id: 'edge-1', payload: { message: 'line 3 "quoted" ü' }, message: 'line 3 "quoted" ü' });
  });

  it('malformed v2 goes to the DLQ for good, with its record id and headers; the one the schema refuses names its record id', async () => {
    const good = v2Message(fileLine('cccc', 1));
    const refused = v2Message({ ...fileLine('cccc', 2), payload: { message: 7 } });
    await producer.send([
      { ...good, key: 'edge-1:logs:f:cccc:bad-header', headers: { ...good.headers, [KAFKA_HEADERS.envelope]: '{"v":2,"agentId":"edge-1","source":{"id":"logs","kind":"tape"}}' } },
      { ...good, key: 'edge-1:logs:f:cccc:bad-value', value: Buffer.from('{"payload":{"message":"x"}}') },
      refused,
      good,
    ]);
    const dlq = await waitFor(
      '3 DLQ rows',
      async () =>
        (await state.pool.query<{ record_id: string | null; reason: string; reason_kind: string; headers: Record<string, string> }>(`SELECT record_id, reason, reason_kind, headers FROM dlq WHERE record_id LIKE '%:cccc:%' ORDER BY record_id`)).rows,
      (r) => r.length === 3,
    );
    expect(dlq.map((r) => [r.record_id, r.reason_kind])).toEqual([
      ['edge-1:logs:f:cccc:200', 'schema'],
      ['edge-1:logs:f:cccc:bad-header', 'not_envelope'],
      ['edge-1:logs:f:cccc:bad-value', 'not_envelope'],
    ]);
    expect(dlq[1]!.reason).toMatch(/^not a Sluice envelope: the envelope header: \/source\/kind/);
    expect(dlq[2]!.reason).toMatch(/^not a Sluice envelope: .*ingestTime/);
    for (const r of dlq) expect(r.headers[KAFKA_HEADERS.envelope]).toBeDefined();
    await waitFor('the good one', async () => (await rows('wire_lines', '%:cccc:%')).length, (n) => n === 1);
  });

  it('the real agent ships v2 by default and v1 when told, and both make the same rows', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => `${i} GET /api/v1/orders/${i * 7} status=200 "ok" ü`);
    const runAgent = (name: string, dataset: string, envelope: string): void => {
      const home = path.join(dir, name);
      mkdirSync(path.join(home, 'logs'), { recursive: true });
      writeFileSync(path.join(home, 'logs', 'app.log'), '');
      writeFileSync(
        path.join(home, 'agent.yaml'),
        [
          'agentId: wire-agent',
          'dataDir: ./data',
          'kafka:',
          `  brokers: ${JSON.stringify(stackEnv.kafkaBrokers)}`,
          `  topicPrefix: "${config.topicPrefix}"`,
          envelope,
          'http:',
          '  listen: 127.0.0.1:0',
          'allowedRoots: [./logs]',
          'sources:',
          '  - type: file',
          '    id: tail',
          `    dataset: ${dataset}`,
          `    include: ["${path.join(home, 'logs', '*.log')}"]`,
          '',
        ].join('\n'),
      );
      const agent = spawn(process.execPath, [AGENT, 'run', '--config', path.join(home, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
      agents.push(agent);
      appendFileSync(path.join(home, 'logs', 'app.log'), lines.map((l) => `${l}\n`).join(''));
    };
    runAgent('v2', 'wire_agent_v2', '');
    runAgent('v1', 'wire_agent_v1', '  envelope: v1');
    const [v2Rows, v1Rows] = await Promise.all(
      ['wire_agent_v2', 'wire_agent_v1'].map((t) => waitFor(`40 rows in ${t}`, () => rows(t), (r) => r.length === lines.length, 60_000)),
    );
    const shape = (r: Row) => ({ offset: Number(r.id.split(':').at(-1)), agent: r.agent_id, message: r.message, payload: r.payload });
    const byOffset = (a: { offset: number }, b: { offset: number }) => a.offset - b.offset;
    expect(v2Rows!.map(shape).sort(byOffset)).toEqual(v1Rows!.map(shape).sort(byOffset));
    expect(v2Rows!.map(shape).sort(byOffset).map((r) => r.message)).toEqual(lines);
    for (const r of v2Rows!) expect(r.id).toMatch(/^wire-agent:tail:f:[0-9a-f]+:\d+$/);
  });
});
