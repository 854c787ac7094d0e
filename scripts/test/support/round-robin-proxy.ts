/**
 * One address in front of several control-plane `serve` processes, as a load balancer would put it: each new
 * TCP connection goes to the next target in turn, and a target that refuses the connection is skipped, so a
 * stopped process is routed around. Plain TCP, so HTTP keep-alive connections stay on the process that
 * accepted them, exactly as behind a layer-4 balancer.
 * (control-plane/test/support/tcp-proxy.ts cuts one target on demand; the scripts project does not build
 * against control-plane, and this one balances instead.)
 */
import net from 'node:net';

export interface Target {
  host: string;
  port: number;
}

export interface RoundRobinProxy {
  port: number;
  url: string;
  /** How many connections each target (by `host:port`) has been handed. */
  connections(): Map<string, number>;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targets: Target[]): Promise<RoundRobinProxy> {
  if (targets.length === 0) throw new Error('a round-robin proxy needs at least one target');
  const sockets = new Set<net.Socket>();
  const handed = new Map<string, number>();
  let next = 0;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };

  // Tries each target once, starting at the next in turn; the client is dropped only when none accepts.
  const connect = (client: net.Socket, first: number, attempt: number): void => {
    if (attempt >= targets.length) {
      client.destroy();
      return;
    }
    const target = targets[(first + attempt) % targets.length]!;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    let connected = false;
    upstream.once('error', () => {
      if (!connected) connect(client, first, attempt + 1);
    });
    upstream.once('connect', () => {
      connected = true;
      const key = `${target.host}:${target.port}`;
      handed.set(key, (handed.get(key) ?? 0) + 1);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    connect(client, next++, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: () => new Map(handed),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
