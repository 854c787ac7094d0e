import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  at: number;
}

/** A local HTTP server for http-poll tests; `handler` may be swapped at any time; every request is recorded. */
export class TestHttpServer {
  readonly seen: SeenRequest[] = [];
  handler: (req: SeenRequest, res: ServerResponse) => void = (_req, res) => res.end('[]');
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      const seen = { method: req.method ?? 'GET', url: new URL(req.url ?? '/', 'http://localhost'), headers: req.headers, at: Date.now() };
      this.seen.push(seen);
      this.handler(seen, res);
    });
    server.keepAliveTimeout = 100;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops listening and drops open connections ("the server goes down"). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function json(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
