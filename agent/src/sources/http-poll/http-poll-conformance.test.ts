import { json, TestHttpServer } from '../../../test/support/test-http-server.ts';
import { httpPollConfig } from '../../../test/support/source-config.ts';
import { describeSourceConformance } from '../../../test/support/source-conformance.ts';
import { HttpPollSource } from './http-poll-source.ts';

const PAGE = 100;

describeSourceConformance('http-poll', async () => {
  // A feed of records 0..available-1, walked by cursor, PAGE at a time.
  let available = 0;
  const server = await new TestHttpServer().start();
  server.handler = (req, res) => {
    const from = Number(req.url.searchParams.get('cursor') ?? 0);
    const to = Math.min(available, from + PAGE);
    json(res, { items: Array.from({ length: Math.max(0, to - from) }, (_, i) => ({ n: from + i })), next: String(Math.max(from, to)) });
  };
  return {
    create: () =>
      new HttpPollSource(
        httpPollConfig({
          type: 'http-poll', id: 'poll1', dataset: 'items', url: `${server.url}/feed`, intervalMs: 100, idField: '/n', recordsPath: 'items',
          pagination: { type: 'cursor', cursorPath: 'next', param: 'cursor' }, retry: { retries: 3, minDelayMs: 20, maxDelayMs: 200 },
        }),
      ),
    produce: (_from, to) => {
      available = to;
      return Promise.resolve();
    },
    numberOf: (envelope) => (envelope.payload as { n: number }).n,
    whenFull: 'waits',
    cleanup: () => server.stop(),
  };
});
