/**
 * Source kinds by config `type` (CONVENTIONS §4): adding a kind is one folder plus one line here, never a
 * switch in the runtime. A factory builds the source from its validated config; `deps` carries what a
 * source may need from the agent (the config's folder for relative paths, a route scope on the agent's HTTP
 * server, metrics hooks). Each kind's module is imported when a source of that kind starts, so an agent
 * that only tails files does not load an HTTP client, a circuit breaker or a CSV parser (memory on a gateway).
 */
import path from 'node:path';
import type { SourceConfig, SourceType } from '@sluice/shared/agent-config/index';
import type { AllowedRoots } from '../config/allowed-roots.ts';
import type { HttpRoutes } from '../http/server.ts';
import type { Source } from './source.ts';

export interface SourceDeps {
  /** The config file's folder. */
  baseDir: string;
  /** The folders file sources may read (checked again at run time: links are judged by their target). */
  allowedRoots: AllowedRoots;
  /** Routes on the agent's HTTP server, removed when the source stops. */
  http: HttpRoutes;
  /** Reports a circuit breaker's state (0 closed, 1 half-open, 2 open) for the breaker gauge. */
  breakerState: (endpoint: string, state: number) => void;
  /** Counts a connection the source lost and made again (the reconnects counter). */
  reconnected: () => void;
}

type SourceFactories = { [K in SourceType]: (config: Extract<SourceConfig, { type: K }>, deps: SourceDeps) => Promise<Source> };

const BREAKER_LEVEL: Record<string, number> = { closed: 0, halfOpen: 1, 'half-open': 1, open: 2 };

export const sourceFactories: SourceFactories = {
  file: async (config, deps) => {
    const { FileSource } = await import('./file/file-source.ts');
    return new FileSource(config, { baseDir: deps.baseDir, allowedRoots: deps.allowedRoots });
  },
  drop: async (config, deps) => {
    const { DropSource } = await import('./drop/drop-source.ts');
    return new DropSource({ ...config, path: path.resolve(deps.baseDir, config.path) });
  },
  'http-poll': async (config, deps) => {
    const { HttpPollSource } = await import('./http-poll/http-poll-source.ts');
    return new HttpPollSource(config, { onBreakerState: (state, endpoint) => deps.breakerState(endpoint, BREAKER_LEVEL[state] ?? -1) });
  },
  'http-push': async (config, deps) => {
    const { HttpPushSource } = await import('./http-push/http-push-source.ts');
    const source = new HttpPushSource(config);
    deps.http.route('POST', `/v1/ingest/${config.dataset}`, (req, res) => source.handle(req, res));
    const sockets = source.sockets;
    if (sockets) deps.http.upgrade(`/v1/ingest/${config.dataset}`, (req, socket, head) => sockets.upgrade(req, socket, head));
    return source;
  },
  mqtt: async (config, deps) => {
    const { MqttSource } = await import('./mqtt/mqtt-source.ts');
    return new MqttSource(config, {
      baseDir: deps.baseDir,
      allowedRoots: deps.allowedRoots,
      onConnectionState: (state, broker) => deps.breakerState(broker, BREAKER_LEVEL[state] ?? -1),
      onReconnect: deps.reconnected,
    });
  },
};

export function createSource(config: SourceConfig, deps: SourceDeps): Promise<Source> {
  const factory = sourceFactories[config.type] as (config: SourceConfig, deps: SourceDeps) => Promise<Source>;
  return factory(config, deps);
}
