/**
 * The agent's one HTTP server (node:http): /metrics, /healthz, /status, plus routes sources mount.
 *
 * With a token configured, /metrics, /healthz and /status answer only `Authorization: Bearer <token>` (401
 * otherwise; Prometheus and probes send it). Without one they are open, so the server then refuses to listen
 * anywhere but loopback (the config loader refuses such a config first, naming http.token). Source routes
 * authenticate themselves (http-push has its own token per source).
 *
 * For sources: a factory in sources/registry.ts gets `deps.http` (an HttpRoutes scoped to its source) and
 * calls `deps.http.route('POST', '/v1/ingest/app_logs', handler)`. Paths are exact or end in `/:name`
 * segments (`/v1/ingest/:dataset`, the value arrives in `params`). `deps.http.upgrade(path, handler)` takes the
 * HTTP Upgrade requests (WebSocket) of a path the same way; an upgrade nobody takes is answered 404 and closed.
 * The runtime removes a source's routes
 * when the source stops, so a reload never leaves a stale handler behind. A handler owns the response; if it
 * throws, the server answers through send-error.ts (a named error as itself, anything else 500).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { MethodNotAllowedError, NotFoundError, UnauthorizedError } from '@sluice/shared/errors';
import { bearerToken, tokenDigest, tokenMatches } from '@sluice/shared/node/bearer-token';
import type { Logger } from '@sluice/shared/node/logger';
import { isLoopbackHost, parseListen } from './listen-address.ts';
import { sendError } from './send-error.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => void | Promise<void>;

/** Takes over the socket of an HTTP Upgrade request (it must answer or destroy it). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, params: Record<string, string>) => void;

export interface HttpRoutes {
  /** Mounts a handler; returns a function that unmounts it. Throws if the method+path is taken. */
  route(method: string, path: string, handler: RouteHandler): () => void;
  /** Mounts a handler of Upgrade requests (WebSocket) on a path; returns a function that unmounts it. */
  upgrade(path: string, handler: UpgradeHandler): () => void;
}

interface Route {
  method: string;
  segments: string[];
  handler: RouteHandler;
}

interface UpgradeRoute {
  segments: string[];
  handler: UpgradeHandler;
}

export interface AgentHttpServerOptions {
  log: Logger;
  /** When set, /metrics, /healthz and /status require `Authorization: Bearer <token>`; unset, loopback only. */
  token?: string | undefined;
  metrics: () => Promise<{ contentType: string; body: string }>;
  status: () => unknown;
  healthy: () => { ok: boolean; reason?: string };
}

export class AgentHttpServer implements HttpRoutes {
  readonly #options: AgentHttpServerOptions;
  readonly #routes: Route[] = [];
  readonly #upgrades: UpgradeRoute[] = [];
  readonly #server: Server;
  #tokenDigest: Buffer | undefined;
  /** Set once listening on a non-loopback address: from then on the token cannot be removed. */
  #exposed = false;

  constructor(options: AgentHttpServerOptions) {
    this.#options = options;
    this.setToken(options.token);
    this.#server = createServer((req, res) => {
      this.#dispatch(req, res).catch((error: unknown) => {
        options.log.error({ err: error, url: req.url }, 'http handler failed');
        if (!res.headersSent) sendError(res, error);
        else res.destroy();
      });
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.#dispatchUpgrade(req, socket, head);
      } catch (error) {
        options.log.error({ err: error, url: req.url }, 'upgrade handler failed');
        socket.destroy();
      }
    });
    this.#server.keepAliveTimeout = 5000;
  }

  /** Replaces the token (config reload); removing it is refused while the server listens beyond loopback. */
  setToken(token: string | undefined): void {
    if (token === undefined && this.#exposed) throw new Error(NEEDS_TOKEN);
    this.#tokenDigest = token === undefined ? undefined : tokenDigest(token);
  }

  route(method: string, path: string, handler: RouteHandler): () => void {
    const segments = splitPath(path);
    const route: Route = { method: method.toUpperCase(), segments, handler };
    if (this.#routes.some((r) => r.method === route.method && r.segments.join('/') === segments.join('/'))) {
      throw new Error(`route ${method} ${path} is already mounted`);
    }
    this.#routes.push(route);
    return () => {
      const i = this.#routes.indexOf(route);
      if (i >= 0) this.#routes.splice(i, 1);
    };
  }

  upgrade(path: string, handler: UpgradeHandler): () => void {
    const segments = splitPath(path);
    if (this.#upgrades.some((r) => r.segments.join('/') === segments.join('/'))) throw new Error(`upgrade route ${path} is already mounted`);
    const route: UpgradeRoute = { segments, handler };
    this.#upgrades.push(route);
    return () => {
      const i = this.#upgrades.indexOf(route);
      if (i >= 0) this.#upgrades.splice(i, 1);
    };
  }

  /** A view whose routes can all be removed at once (one per source). */
  scope(): HttpRoutes & { clear(): void } {
    const removers: Array<() => void> = [];
    const keep = (remove: () => void): (() => void) => {
      removers.push(remove);
      return remove;
    };
    return {
      route: (method, path, handler) => keep(this.route(method, path, handler)),
      upgrade: (path, handler) => keep(this.upgrade(path, handler)),
      clear: () => {
        for (const remove of removers.splice(0)) remove();
      },
    };
  }

  async listen(hostPort: string): Promise<AddressInfo> {
    const { host, port } = parseListen(hostPort);
    const exposed = !isLoopbackHost(host);
    if (exposed && this.#tokenDigest === undefined) throw new Error(`${NEEDS_TOKEN} (http.listen is ${hostPort})`);
    this.#exposed = exposed;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    await closed;
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const method = req.method ?? 'GET';
    const builtIn = method === 'GET' && BUILT_IN_PATHS.has(url.pathname);
    if (builtIn && this.#tokenDigest && !tokenMatches(bearerToken(req.headers.authorization), this.#tokenDigest)) {
      req.resume();
      sendError(res, UnauthorizedError('a valid bearer token is required (Authorization: Bearer <http.token>)'));
      return;
    }
    if (method === 'GET' && url.pathname === '/metrics') {
      const { contentType, body } = await this.#options.metrics();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    if (method === 'GET' && url.pathname === '/healthz') {
      const health = this.#options.healthy();
      sendJson(res, health.ok ? 200 : 503, health);
      return;
    }
    if (method === 'GET' && url.pathname === '/status') {
      sendJson(res, 200, this.#options.status());
      return;
    }
    const segments = splitPath(url.pathname);
    let pathMatched = false;
    for (const route of this.#routes) {
      const params = match(route.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      await route.handler(req, res, params);
      return;
    }
    req.resume();
    sendError(res, pathMatched ? MethodNotAllowedError(`${method} is not allowed here`) : NotFoundError(`no route for ${url.pathname}`));
  }

  #dispatchUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const segments = splitPath(new URL(req.url ?? '/', 'http://agent').pathname);
    for (const route of this.#upgrades) {
      const params = match(route.segments, segments);
      if (params) return route.handler(req, socket, head, params);
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  }
}

const BUILT_IN_PATHS = new Set(['/metrics', '/healthz', '/status']);

const NEEDS_TOKEN = 'http.token is required when the agent listens beyond loopback (127.0.0.1 or ::1)';

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function match(pattern: string[], actual: string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(a);
    else if (p !== a) return undefined;
  }
  return params;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

