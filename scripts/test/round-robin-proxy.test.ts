// The proxy the two-process fleet test puts in front of two `serve` processes: connections alternate between
// the targets, and a target that refuses connections is routed around.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startRoundRobinProxy, type RoundRobinProxy } from './support/round-robin-proxy.ts';

const servers: Server[] = [];
let proxy: RoundRobinProxy | undefined;

async function named(name: string): Promise<number> {
  const server = createServer((_req, res) => res.end(name));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

// A fresh connection per request (no keep-alive): each one is routed anew.
const ask = async (url: string): Promise<string> => (await fetch(url, { headers: { connection: 'close' } })).text();

afterEach(async () => {
  await proxy?.close();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

describe('round-robin TCP proxy', () => {
  it('hands connections to each target in turn', async () => {
    const ports = [await named('a'), await named('b')];
    proxy = await startRoundRobinProxy(ports.map((port) => ({ host: '127.0.0.1', port })));
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push(await ask(proxy.url));
    expect(answers).toEqual(['a', 'b', 'a', 'b']);
    expect([...proxy.connections().values()]).toEqual([2, 2]);
  });

  it('skips a target that refuses the connection', async () => {
    const alive = await named('alive');
    const gone = await named('gone');
    await new Promise((resolve) => servers.pop()!.close(resolve));
    proxy = await startRoundRobinProxy([{ host: '127.0.0.1', port: gone }, { host: '127.0.0.1', port: alive }]);
    const answers = await Promise.all([0, 1, 2].map(() => ask(proxy!.url)));
    expect(answers).toEqual(['alive', 'alive', 'alive']);
  });
});
