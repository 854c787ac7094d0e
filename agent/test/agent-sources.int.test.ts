/**
 * The real agent (YAML config → loader → runtime → outbox → shipper) with a drop, an http-poll and an
 * http-push source, against the real Kafka. Checks the three reach their topics through the registry, and
 * that the poller's breaker shows in /status and /metrics.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { topicForDataset } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { TEST_TOPIC_PREFIX } from '@sluice/shared/node/testing/test-resources';
import { createLogger } from '@sluice/shared/node/logger';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { parseConfig } from '../src/config/load-config.ts';
import { Agent } from '../src/runtime/agent.ts';
import { json, TestHttpServer } from './support/test-http-server.ts';
import { readTopic } from './support/topic-reader.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const brokers = loadStackEnv().kafkaBrokers;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const decode = (m: IncomingMessage) => readWireEnvelope(m.key, m.value, m.headers);

describe('agent with drop, http-poll and http-push sources → Kafka', () => {
  it('ships each source to its dataset topic; the breaker state is in /status and /metrics', async () => {
    const work = await mkdtemp(join(tmpdir(), 'sluice-agent-sources-'));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    await mkdir(join(work, 'drop'));
    const suffix = randomBytes(4).toString('hex');
    const datasets = { drop: `ds_drop_${suffix}`, poll: `ds_poll_${suffix}`, push: `ds_push_${suffix}` };
    const api = await new TestHttpServer().start();
    cleanup.push(() => api.stop());
    api.handler = (req, res) => {
      if (req.headers.authorization !== 'Bearer poll-secret-value') return json(res, { error: 'no' }, 401);
      const page = Number(req.url.searchParams.get('page') ?? 1);
      json(res, { results: page <= 2 ? [{ n: page * 10 + 1 }, { n: page * 10 + 2 }] : [] });
    };
    const yaml = `
agentId: it-agent-${suffix}
dataDir: ./data
kafka:
  brokers: [${brokers.join(', ')}]
  topicPrefix: "${TEST_TOPIC_PREFIX}"
http:
  listen: 127.0.0.1:0
allowedRoots: [${work}]
sources:
  - type: drop
    id: drop
    dataset: ${datasets.drop}
    path: ./drop
    completion: { stableMs: 200 }
  - type: http-poll
    id: poll
    dataset: ${datasets.poll}
    url: ${api.url}/things
    intervalMs: 60000
    auth: { bearer: { token: '\${env:IT_POLL_TOKEN}' } }
    recordsPath: results
    pagination: { type: page, param: page }
  - type: http-push
    id: push
    dataset: ${datasets.push}
    token: '\${env:IT_PUSH_TOKEN}'
`;
    const config = parseConfig(yaml, work, { IT_POLL_TOKEN: 'poll-secret-value', IT_PUSH_TOKEN: 'push-secret-value-123' });
    const agent = new Agent({ config, baseDir: work, file: join(work, 'agent.yaml') }, { log: createLogger('it', { level: 'error' }) });
    await agent.start();
    cleanup.push(() => agent.stop(5000));

    await writeFile(join(work, 'drop', 'rows.csv'), 'a,b\n1,2\n3\n5,6\n');
    const pushed = await fetch(`${agent.url}/v1/ingest/${datasets.push}`, {
      method: 'POST',
      headers: { authorization: 'Bearer push-secret-value-123', 'content-type': 'application/json' },
      body: JSON.stringify([{ x: 1 }, { x: 2 }]),
    });
    expect(pushed.status).toBe(200);

    const dropped = await readTopic(brokers, topicForDataset(datasets.drop, TEST_TOPIC_PREFIX), (m) => m.length >= 3);
    expect(dropped.map((m) => decode(m)).map((e) => e.payload ?? e.parseError?.reason)).toEqual(
      expect.arrayContaining([{ a: '1', b: '2' }, 'line 3: expected 2 fields, got 1', { a: '5', b: '6' }]),
    );
    await waitFor(async () => (await readdir(join(work, 'drop', 'done'))).includes('rows.csv'), 60_000, 'rows.csv in done/');
    const polled = await readTopic(brokers, topicForDataset(datasets.poll, TEST_TOPIC_PREFIX), (m) => m.length >= 4);
    expect(polled.map((m) => (decode(m).payload as { n: number }).n).sort()).toEqual([11, 12, 21, 22]);
    const pushedRecords = await readTopic(brokers, topicForDataset(datasets.push, TEST_TOPIC_PREFIX), (m) => m.length >= 2);
    expect(pushedRecords.map((m) => decode(m).payload)).toEqual(expect.arrayContaining([{ x: 1 }, { x: 2 }]));

    const status = (await (await fetch(`${agent.url}/status`)).json()) as { sources: { id: string; details?: Record<string, unknown> }[] };
    const poll = status.sources.find((s) => s.id === 'poll');
    expect(poll?.details).toMatchObject({ breaker: 'closed', breakerState: 0, pages: 3 });
    expect(JSON.stringify(status)).not.toContain('poll-secret-value');
    expect(JSON.stringify(status)).not.toContain('push-secret-value-123');
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/sluice_agent_records_committed_total\{source="push"\} 2/);
    expect(metrics).toMatch(/sluice_agent_breaker_state\{source="poll",endpoint="http:\/\/127\.0\.0\.1:\d+\/things"\} 0/);
  });
});
