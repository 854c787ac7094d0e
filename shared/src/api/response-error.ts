/**
 * The client side of the one error body: a failed HTTP answer (control plane or agent) turned back into
 * the named error the server threw, so a caller branches on `isSluiceError(error, 'NotFoundError')` and
 * never on status numbers or message text. Modelled on Backstage's `ResponseError.fromResponse`.
 *
 * An answer that is not our body (a proxy's 502 page, an old server) still gets a name, from its status,
 * so callers need no second path for it.
 */
import { ERROR_NAMES, HTTP_STATUS, SluiceError, isErrorName, type ErrorBody, type ErrorName } from '../errors.ts';

/** What `fromResponse` needs of an answer; fetch's `Response` is one. */
export interface ResponseLike {
  readonly status: number;
  readonly statusText?: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** Gateways answer 502/504 when what is behind them is away: the same "come back later" as a 503. */
const GATEWAY_STATUSES = new Set([502, 504]);

export class ResponseError extends SluiceError {
  readonly status: number;
  /** From Retry-After (seconds or an HTTP date), else the body's `details.retryAfterSeconds`. */
  readonly retryAfterSeconds: number | undefined;
  /** The error body as the server sent it, when it sent one. */
  readonly body: ErrorBody | undefined;

  constructor(status: number, name: ErrorName, message: string, details: unknown, extra: { body?: ErrorBody | undefined; retryAfterSeconds?: number | undefined } = {}) {
    super(name, message, details);
    this.status = status;
    this.body = extra.body;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }

  /** Reads a failed answer's body (never throws: an unreadable body counts as none). */
  static async fromResponse(response: ResponseLike, now: () => number = Date.now): Promise<ResponseError> {
    const text = await response.text().catch(() => '');
    return ResponseError.fromParts(response.status, text, response.headers.get('retry-after'), response.statusText, now);
  }

  /** The same from parts already read (e.g. an injected fastify response). */
  static fromParts(status: number, text: string, retryAfter?: string | null, statusText?: string, now: () => number = Date.now): ResponseError {
    const body = errorBodyOf(text);
    const name = body?.error.name ?? nameForStatus(status);
    const message = body?.error.message ?? `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
    const details = body?.error.details;
    const fromBody = (details as { retryAfterSeconds?: unknown } | null | undefined)?.retryAfterSeconds;
    const retryAfterSeconds = parseRetryAfter(retryAfter, now) ?? (typeof fromBody === 'number' && Number.isFinite(fromBody) ? fromBody : undefined);
    return new ResponseError(status, name, message, details, { body, retryAfterSeconds });
  }
}

/** The body when it is ours: `{"error": {"name": <a known name>, "message": <string>}}`. */
function errorBodyOf(text: string): ErrorBody | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: unknown } | null)?.error as { name?: unknown; message?: unknown; details?: unknown } | null | undefined;
  if (typeof error !== 'object' || error === null || !isErrorName(error.name) || typeof error.message !== 'string') return undefined;
  return { error: { name: error.name, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) } };
}

/** The name a server of ours would have used for this status; the nearest one otherwise. */
export function nameForStatus(status: number): ErrorName {
  const exact = ERROR_NAMES.find((name) => HTTP_STATUS[name] === status);
  if (exact) return exact;
  if (GATEWAY_STATUSES.has(status)) return 'UnavailableError';
  return status >= 400 && status < 500 ? 'InputError' : 'BugError';
}

/** Retry-After is delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
function parseRetryAfter(value: string | null | undefined, now: () => number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now()) / 1000));
}
