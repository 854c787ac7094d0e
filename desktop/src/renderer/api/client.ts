/**
 * The console's one API client. Every data call goes through `request`, which
 *   - sends the access token of the login (refreshing it first when it is about to expire: silent refresh),
 *   - on 401 refreshes once and repeats the call; when the refresh fails too the login is over: `onSessionLost`
 *     tells the app to show the login screen, and the call fails with the 401,
 *   - on 503 (and a gateway's 502/504) waits for Retry-After and tries again, a few times, within a deadline,
 *   - turns an error answer into the named error (ResponseError.name: InputError, NotFoundError, …) and no
 *     answer at all into a ConnectionError.
 *
 *   signed out --login--> signed in --(access token near expiry | 401)--> refreshing --ok--> signed in
 *                                                                            \--fails--> signed out (onSessionLost)
 */
import { ResponseError } from '@sluice/shared/api/response-error';
import type { SessionResponse } from '@sluice/shared/api/auth';
import type { ApiRequest } from '../../common/ipc.ts';
import { ConnectionError } from './connection-error.ts';
import type { SessionKeeper } from './session-keeper.ts';
import type { Transport } from './transport.ts';

export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface ApiClientOptions {
  /** The control plane's origin, e.g. https://cp.example.com:8080 ('' in a browser: the page's own). */
  baseUrl: string;
  transport: Transport;
  keeper: SessionKeeper;
  /** Called once when the login can no longer be refreshed. */
  onSessionLost?: () => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** How often a 503 is retried (default 3) and the longest single wait honoured (default 30 s). */
  unavailableRetries?: number;
  maxRetryWaitMs?: number;
}

/** Refresh when the access token has less than this left, so a call never goes out with a dying token. */
const REFRESH_AHEAD_MS = 30_000;
/** A 503 without Retry-After waits this long. */
const DEFAULT_RETRY_WAIT_MS = 1_000;

export interface SignedIn {
  username: string;
  role: 'viewer' | 'operator' | 'admin';
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #options: Required<Omit<ApiClientOptions, 'onSessionLost'>> & Pick<ApiClientOptions, 'onSessionLost'>;
  #accessToken: string | undefined;
  #expiresAt = 0;
  #user: SignedIn | undefined;
  #refreshing: Promise<boolean> | undefined;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#options = {
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      unavailableRetries: 3,
      maxRetryWaitMs: 30_000,
      ...options,
    };
  }

  get user(): SignedIn | undefined {
    return this.#user;
  }

  /** Logs in; the error of a refused login is the server's (UnauthorizedError, TooManyRequestsError). */
  async login(username: string, password: string): Promise<SignedIn> {
    const session = await this.#call<SessionResponse>('POST', '/api/v1/auth/login', {
      body: JSON.stringify({ username, password, client: this.#options.keeper.client }),
      headers: { 'content-type': 'application/json' },
      authenticated: false,
    });
    await this.#start(session);
    return session.user;
  }

  /** Resumes an earlier login (a reloaded tab, a restarted app) without asking for the password. */
  async resume(): Promise<SignedIn | undefined> {
    return (await this.#refresh()) ? this.#user : undefined;
  }

  async logout(): Promise<void> {
    const refresh = await this.#options.keeper.refreshRequest();
    this.#end();
    await this.#options.keeper.forget();
    if (refresh === undefined) return;
    // Best effort: the local login is over either way.
    await this.#call('POST', '/api/v1/auth/logout', { ...refresh, authenticated: false }).catch(() => undefined);
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  async request<T>(method: ApiRequest['method'], path: string, options: { query?: Query | undefined; body?: unknown } = {}): Promise<T> {
    const url = withQuery(path, options.query);
    const payload = options.body === undefined ? {} : { body: JSON.stringify(options.body), headers: { 'content-type': 'application/json' } };
    if (this.#accessToken !== undefined && this.#expiresAt - this.#options.now() < REFRESH_AHEAD_MS) await this.#refresh();
    try {
      return await this.#call<T>(method, url, payload);
    } catch (error) {
      if (!(error instanceof ResponseError) || error.name !== 'UnauthorizedError') throw error;
      if (!(await this.#refresh())) throw error;
      return this.#call<T>(method, url, payload);
    }
  }

  async #start(session: SessionResponse): Promise<void> {
    this.#accessToken = session.accessToken;
    this.#expiresAt = Date.parse(session.expiresAt);
    this.#user = session.user;
    await this.#options.keeper.keep(session);
  }

  #end(): void {
    const wasSignedIn = this.#user !== undefined;
    this.#accessToken = undefined;
    this.#expiresAt = 0;
    this.#user = undefined;
    if (wasSignedIn) this.#options.onSessionLost?.();
  }

  /** One refresh at a time: calls that fail together with 401 share it. */
  #refresh(): Promise<boolean> {
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #doRefresh(): Promise<boolean> {
    const refresh = await this.#options.keeper.refreshRequest();
    if (refresh === undefined) {
      this.#end();
      return false;
    }
    try {
      await this.#start(await this.#call<SessionResponse>('POST', '/api/v1/auth/refresh', { ...refresh, authenticated: false }));
      return true;
    } catch (error) {
      // Unreachable or down: the login may still be good; let the caller see that error.
      if (!(error instanceof ResponseError) || error.status >= 500) throw error;
      await this.#options.keeper.forget();
      this.#end();
      return false;
    }
  }

  async #call<T>(method: ApiRequest['method'], path: string, options: { body?: string | undefined; headers?: Record<string, string>; authenticated?: boolean }): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const { now, sleep, unavailableRetries, maxRetryWaitMs } = this.#options;
    const deadline = now() + maxRetryWaitMs * 2;
    for (let attempt = 0; ; attempt++) {
      if (options.authenticated !== false && this.#accessToken !== undefined) headers.authorization = `Bearer ${this.#accessToken}`;
      const answer = await this.#options.transport.send({ url: `${this.baseUrl}${path}`, method, headers, body: options.body });
      if (answer.kind === 'network-failure') throw new ConnectionError(answer.reason, this.baseUrl === '' ? 'the control plane' : this.baseUrl, answer.message);
      if (answer.status >= 200 && answer.status < 300) return (answer.body === '' ? undefined : JSON.parse(answer.body)) as T;
      const error = ResponseError.fromParts(answer.status, answer.body, answer.headers['retry-after'], answer.statusText, now);
      const waitMs = Math.min(maxRetryWaitMs, (error.retryAfterSeconds ?? DEFAULT_RETRY_WAIT_MS / 1000) * 1000);
      if (error.name !== 'UnavailableError' || attempt >= unavailableRetries || now() + waitMs > deadline) throw error;
      await sleep(waitMs);
    }
  }
}

const isList = (value: Query[string]): value is readonly string[] => Array.isArray(value);

export function withQuery(path: string, query: Query | undefined): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (isList(value)) for (const item of value) params.append(name, item);
    else params.append(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}
