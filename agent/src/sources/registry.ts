/**
 * Source kinds by config `type` (CONVENTIONS §4): adding a kind is one folder plus one line here, never a
 * switch in the runtime. A factory builds the source from its validated config; `deps` carries what a
 * source may need from the agent (the config's folder for relative paths, a route scope on the agent's HTTP
 * server, metrics hooks).
 */
import path from 'node:path';
import type { SourceConfig, SourceType } from '@sluice/shared/agent-config/index';
import type { HttpRoutes } from '../http/server.ts';
import { DropSource } from './drop/drop-source.ts';
import { FileSource } from './file/file-source.ts';
import { HttpPollSource } from './http-poll/http-poll-source.ts';
import { HttpPushSource } from './http-push/http-push-source.ts';
import type { Source } from './source.ts';

export interface SourceDeps {
  /** The config file's folder. */
  baseDir: string;
  /** Routes on the agent's HTTP server, removed when the source stops. */
  http: HttpRoutes;
  /** Reports a circuit breaker's state (0 closed, 1 half-open, 2 open) for the breaker gauge. */
  breakerState: (endpoint: string, state: number) => void;
}

type SourceFactories = { [K in SourceType]: (config: Extract<SourceConfig, { type: K }>, deps: SourceDeps) => Source };

const BREAKER_LEVEL: Record<string, number> = { closed: 0, halfOpen: 1, 'half-open': 1, open: 2 };

export const sourceFactories: SourceFactories = {
  file: (config, deps) => new FileSource(config, { baseDir: deps.baseDir }),
  drop: (config, deps) => new DropSource({ ...config, path: path.resolve(deps.baseDir, config.path) }),
  'http-poll': (config, deps) => new HttpPollSource(config, { onBreakerState: (state, endpoint) => deps.breakerState(endpoint, BREAKER_LEVEL[state] ?? -1) }),
  'http-push': (config, deps) => {
    const source = new HttpPushSource(config);
    deps.http.route('POST', `/v1/ingest/${config.dataset}`, (req, res) => source.handle(req, res));
    return source;
  },
};

export function createSource(config: SourceConfig, deps: SourceDeps): Source {
  const factory = sourceFactories[config.type] as (config: SourceConfig, deps: SourceDeps) => Source;
  return factory(config, deps);
}
