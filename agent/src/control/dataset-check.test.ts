import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '@sluice/shared/agent-config/index';
import { UnavailableError, errorResponse } from '@sluice/shared/errors';
import { checkDatasets } from './dataset-check.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A stand-in for what answers at the control plane's address when the control plane cannot: per dataset. */
async function answering(answers: Record<string, { status: number; headers?: Record<string, string>; body: string }>): Promise<string> {
  server = createServer((req, res) => {
    const answer = answers[decodeURIComponent(req.url!.split('/').at(-1)!)] ?? { status: 200, body: '{}' };
    res.writeHead(answer.status, answer.headers).end(answer.body);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const configFor = (url: string, datasets: string[]): AgentConfig =>
  ({ controlPlane: { url, apiKey: 'slk_test' }, sources: datasets.map((dataset) => ({ dataset })) }) as unknown as AgentConfig;

describe('checkDatasets', () => {
  it('reads the error body back into the named error: 404 is unknown, others are warnings naming the error', async () => {
    const down = errorResponse(UnavailableError('a dependency of this service is unavailable; retry later'), { defaultRetryAfterSeconds: 5 });
    const url = await answering({
      ghost: { status: 404, headers: { 'content-type': 'application/json' }, body: '{"error":{"name":"NotFoundError","message":"dataset ghost does not exist"}}' },
      busy: { status: down.status, headers: down.headers, body: JSON.stringify(down.body) },
      proxied: { status: 502, body: '<html>bad gateway</html>' },
    });
    const check = await checkDatasets(configFor(url, ['known', 'ghost', 'busy', 'proxied']));
    expect(check?.unknown.map((u) => [u.path, u.dataset])).toEqual([['sources[1].dataset', 'ghost']]);
    expect(check?.warnings.sort()).toEqual([
      `control plane ${url} answered HTTP 502 for dataset "proxied" (UnavailableError: HTTP 502 Bad Gateway): not checked`,
      `control plane ${url} answered HTTP 503 for dataset "busy" (UnavailableError: a dependency of this service is unavailable; retry later): not checked`,
    ]);
  });
});
