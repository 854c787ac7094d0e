/**
 * A TCP proxy for fault tests: the component under test connects through it to a shared stack service, and
 * the test cuts the connection (`cut()`) without stopping the service the other tests use. `onClientData`
 * sees what the client sends, so a test can cut at an exact step of a protocol.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones until `resume()`. */
  cut(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, onClientData?: (chunk: Buffer) => void): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    track(client);
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.on('data', (chunk: Buffer) => {
      onClientData?.(chunk);
      if (!refusing) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!refusing) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    resume: () => {
      refusing = false;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
