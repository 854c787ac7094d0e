/**
 * The agent's HTTP client of the control plane's fleet API (got): enrollment and check-in. It trusts the CA
 * named at enrollment (`caFile`) besides the system's, and sends the agent credential and session header on
 * every authenticated request. An error answer becomes the named error the server threw (ResponseError);
 * anything that never got an answer becomes ControlPlaneUnreachableError. Which of them to retry is the
 * caller's decision (checkin-client.ts), not this module's.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import got, { RequestError, type Response } from 'got';
import { ResponseError } from '@sluice/shared/api/response-error';
import { INSTANCE_HEADER, type CheckinRequest, type CheckinResponse, type EnrollRequest, type EnrollResponse } from '@sluice/shared/fleet/checkin';

export interface ControlPlaneClientOptions {
  url: string;
  caFile?: string | undefined;
  /** Per request, on top of any long-poll wait. */
  timeoutMs: number;
  credential?: string;
  /** `x-sluice-instance` of this process's session. */
  instance?: string;
}

/** No answer: refused, reset, DNS, TLS, timeout. */
export class ControlPlaneUnreachableError extends Error {
  readonly code: string | undefined;
  constructor(url: string, error: unknown) {
    const code = error instanceof RequestError ? error.code : undefined;
    const detail = error instanceof Error ? error.message : String(error);
    super(`control plane ${url} is unreachable: ${detail}`, { cause: error });
    this.name = 'ControlPlaneUnreachableError';
    this.code = code;
  }
}

export class ControlPlaneClient {
  readonly #options: ControlPlaneClientOptions;
  readonly #base: URL;
  readonly #ca: string[] | undefined;

  constructor(options: ControlPlaneClientOptions) {
    this.#options = options;
    this.#base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    // A CA of one's own is added to the well-known ones, not put in their place (Node's `ca` replaces them).
    this.#ca = options.caFile === undefined ? undefined : [...rootCertificates, readFileSync(options.caFile, 'utf8')];
  }

  get url(): string {
    return this.#options.url;
  }

  enroll(body: EnrollRequest, signal?: AbortSignal): Promise<EnrollResponse> {
    return this.#post<EnrollResponse>('api/v1/enroll', body, { signal });
  }

  checkin(body: CheckinRequest, signal?: AbortSignal): Promise<CheckinResponse> {
    return this.#post<CheckinResponse>('api/v1/agent/checkin', body, { signal, waitSeconds: body.waitSeconds ?? 0, authenticated: true });
  }

  async #post<T>(route: string, body: unknown, options: { signal?: AbortSignal | undefined; waitSeconds?: number; authenticated?: boolean }): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.authenticated === true) {
      if (this.#options.credential === undefined || this.#options.instance === undefined) throw new TypeError('an authenticated request needs a credential and a session');
      headers.authorization = `Bearer ${this.#options.credential}`;
      headers[INSTANCE_HEADER] = this.#options.instance;
    }
    let response: Response<string>;
    try {
      response = await got.post(new URL(route, this.#base), {
        json: body,
        headers,
        responseType: 'text',
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: this.#options.timeoutMs + (options.waitSeconds ?? 0) * 1000 },
        ...(this.#ca === undefined ? {} : { https: { certificateAuthority: this.#ca } }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (options.signal?.aborted === true) throw options.signal.reason;
      throw new ControlPlaneUnreachableError(this.#options.url, error);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return JSON.parse(response.body) as T;
    const retryAfter = String(response.headers['retry-after'] ?? '');
    throw ResponseError.fromParts(response.statusCode, response.body, retryAfter, response.statusMessage);
  }
}
