/**
 * The one typed IPC definition between the renderer (through the preload bridge) and the main process.
 * Each channel names its argument and its answer; `parseArgument` is what main runs on every argument
 * before a handler sees it, because a renderer is never trusted: whatever it sends is input.
 *
 * The renderer never talks HTTP itself inside the desktop app: `api.request` asks main to make the call,
 * only to a control plane the user connected to, so the page's CSP can forbid every network connection
 * and no CORS setting is needed on the control plane.
 */

/** An HTTP request the renderer wants made to the control plane it is connected to. */
export interface ApiRequest {
  url: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  body?: string | undefined;
}

/** The answer, read whole (API answers are small JSON bodies). */
export interface ApiResponse {
  kind: 'response';
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * No answer at all: the address does not answer (`unreachable`) or its TLS certificate is not trusted
 * (`tls`), which a person fixes differently, so the two are told apart.
 */
export interface ApiNetworkFailure {
  kind: 'network-failure';
  reason: 'unreachable' | 'tls';
  message: string;
}

/** Channel -> argument and answer. Adding a channel here makes the bridge, main and the tests see it. */
export interface IpcContract {
  'servers:list': { argument: null; answer: string[] };
  'servers:remember': { argument: { url: string }; answer: string[] };
  'servers:forget': { argument: { url: string }; answer: string[] };
  'tokens:load': { argument: { url: string }; answer: string | null };
  'tokens:save': { argument: { url: string; refreshToken: string }; answer: null };
  'tokens:clear': { argument: { url: string }; answer: null };
  'api:request': { argument: ApiRequest; answer: ApiResponse | ApiNetworkFailure };
}
export type IpcChannel = keyof IpcContract;
export type IpcArgument<C extends IpcChannel> = IpcContract[C]['argument'];
export type IpcAnswer<C extends IpcChannel> = IpcContract[C]['answer'];

export const IPC_CHANNELS = ['servers:list', 'servers:remember', 'servers:forget', 'tokens:load', 'tokens:save', 'tokens:clear', 'api:request'] as const satisfies readonly IpcChannel[];

/** What the preload exposes as `window.sluice`: the channels, grouped, as promises. */
export interface ConsoleBridge {
  servers: { list(): Promise<string[]>; remember(url: string): Promise<string[]>; forget(url: string): Promise<string[]> };
  tokens: { load(url: string): Promise<string | null>; save(url: string, refreshToken: string): Promise<null>; clear(url: string): Promise<null> };
  api: { request(request: ApiRequest): Promise<ApiResponse | ApiNetworkFailure> };
}

/** Name of the global the preload exposes the bridge as. */
export const BRIDGE_GLOBAL = 'sluice';

export class IpcInputError extends Error {
  override readonly name = 'IpcInputError';
}

const MAX_URL_LENGTH = 2048;
const MAX_TOKEN_LENGTH = 512;
const MAX_BODY_CHARS = 1024 * 1024;
const METHODS = new Set<ApiRequest['method']>(['GET', 'POST', 'PATCH', 'DELETE']);
/** Headers the renderer may set; anything else (cookie, host, origin) is main's or the network's business. */
const ALLOWED_HEADERS = new Set(['accept', 'authorization', 'content-type', 'idempotency-key', 'x-csrf-token']);

/**
 * A control-plane address as the user typed it, reduced to its origin (`https://cp.example.com:8443`).
 * Only http and https; no credentials in the URL (they would be remembered in plain text).
 */
export function controlPlaneOrigin(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL_LENGTH) throw new IpcInputError('url: must be a non-empty string of at most 2048 characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new IpcInputError(`url: "${value}" is not a URL (e.g. https://control-plane.example.com:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new IpcInputError(`url: only http and https are supported, not ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw new IpcInputError('url: must not carry a username or password');
  return url.origin;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new IpcInputError(`${what}: must be an object`);
  return value as Record<string, unknown>;
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], what: string): void {
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new IpcInputError(`${what}: unknown field ${extra.join(', ')}`);
}

function urlArgument(value: unknown): { url: string } {
  const arg = record(value, 'argument');
  onlyKeys(arg, ['url'], 'argument');
  return { url: controlPlaneOrigin(arg.url) };
}

function apiRequest(value: unknown): ApiRequest {
  const arg = record(value, 'request');
  onlyKeys(arg, ['url', 'method', 'headers', 'body'], 'request');
  if (typeof arg.url !== 'string' || arg.url.length > MAX_URL_LENGTH) throw new IpcInputError('request.url: must be a string of at most 2048 characters');
  controlPlaneOrigin(arg.url);
  if (typeof arg.method !== 'string' || !METHODS.has(arg.method as ApiRequest['method'])) throw new IpcInputError('request.method: must be GET, POST, PATCH or DELETE');
  const headers = record(arg.headers ?? {}, 'request.headers');
  const clean: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!ALLOWED_HEADERS.has(lower)) throw new IpcInputError(`request.headers: ${name} may not be set by the console`);
    if (typeof headerValue !== 'string' || headerValue.length > 8192) throw new IpcInputError(`request.headers.${name}: must be a string`);
    clean[lower] = headerValue;
  }
  if (arg.body !== undefined && (typeof arg.body !== 'string' || arg.body.length > MAX_BODY_CHARS)) throw new IpcInputError('request.body: must be a string of at most 1 MiB');
  return { url: arg.url, method: arg.method as ApiRequest['method'], headers: clean, body: arg.body };
}

/** Checks and normalises the argument of `channel`; throws IpcInputError with `path: reason`. */
export function parseArgument<C extends IpcChannel>(channel: C, value: unknown): IpcArgument<C> {
  const parsers: { [K in IpcChannel]: (v: unknown) => IpcArgument<K> } = {
    'servers:list': (v) => {
      if (v !== null && v !== undefined) throw new IpcInputError('argument: servers:list takes none');
      return null;
    },
    'servers:remember': urlArgument,
    'servers:forget': urlArgument,
    'tokens:load': urlArgument,
    'tokens:clear': urlArgument,
    'tokens:save': (v) => {
      const arg = record(v, 'argument');
      onlyKeys(arg, ['url', 'refreshToken'], 'argument');
      if (typeof arg.refreshToken !== 'string' || arg.refreshToken.length === 0 || arg.refreshToken.length > MAX_TOKEN_LENGTH) {
        throw new IpcInputError('refreshToken: must be a non-empty string of at most 512 characters');
      }
      return { url: controlPlaneOrigin(arg.url), refreshToken: arg.refreshToken };
    },
    'api:request': apiRequest,
  };
  return parsers[channel](value);
}
