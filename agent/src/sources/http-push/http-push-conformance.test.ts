import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@sluice/shared/node/logger';
import { httpPushConfig } from '../../../test/support/source-config.ts';
import { describeSourceConformance } from '../../../test/support/source-conformance.ts';
import { AgentHttpServer } from '../../http/server.ts';
import { HttpPushSource } from './http-push-source.ts';

const TOKEN = 'push-token-0123456789';
const BATCH = 10;

describeSourceConformance('http-push', async () => {
  let current: HttpPushSource | undefined; // the instance create() made last
  let refusals = 0;
  // Mounted the way sources/registry.ts does, on the agent's own HTTP server; a restart mounts the new instance.
  const server = new AgentHttpServer({
    log: createLogger('test', { level: 'silent' }),
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    status: () => ({}),
    healthy: () => ({ ok: true }),
  });
  server.route('POST', '/v1/ingest/events', (req, res) => current!.handle(req, res));
  const { port } = await server.listen('127.0.0.1:0');
  /** A client that retries a batch with the same Idempotency-Key until it is accepted, as a client should. */
  const push = async (from: number, to: number): Promise<void> => {
    const body = JSON.stringify(Array.from({ length: to - from }, (_, i) => ({ n: from + i })));
    for (;;) {
      const response = await fetch(`http://127.0.0.1:${port}/v1/ingest/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': `batch-${from}` },
        body,
      });
      await response.arrayBuffer();
      if (response.status === 200) return;
      if (response.status === 429) refusals++;
      await sleep(20);
    }
  };
  return {
    create: () => (current = new HttpPushSource(httpPushConfig({ type: 'http-push', id: 'push1', dataset: 'events', token: TOKEN }))),
    produce: async (from, to) => {
      for (let start = from; start < to; start += BATCH) await push(start, Math.min(to, start + BATCH));
    },
    numberOf: (envelope) => (envelope.payload as { n: number }).n,
    whenFull: { refusals: () => refusals },
    cleanup: () => server.close(),
  };
});
