/**
 * The handful of named errors. Expected failures carry a name every HTTP surface maps to a status in one
 * place (`errorResponse` below; the control plane's and the agent's servers both answer through it);
 * `BugError` marks what should never happen. One body shape, which a client turns back into the named
 * error with `ResponseError` (api/response-error.ts).
 */
export const ERROR_NAMES = [
  'InputError',
  'NotFoundError',
  'ConflictError',
  'UnauthorizedError',
  'ForbiddenError',
  'MethodNotAllowedError',
  'PayloadTooLargeError',
  'TooManyRequestsError',
  'UnavailableError',
  'BugError',
] as const;
export type ErrorName = (typeof ERROR_NAMES)[number];

export interface ErrorBody {
  error: {
    name: ErrorName;
    message: string;
    /** Where the problem is (e.g. JSON paths with reasons) when the client can act on it. */
    details?: unknown;
  };
}

export class SluiceError extends Error {
  override readonly name: ErrorName;
  readonly details: unknown;
  constructor(name: ErrorName, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
    this.details = details;
  }
  toBody(): ErrorBody {
    return { error: { name: this.name, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

const named =
  (name: ErrorName) =>
  (message: string, details?: unknown, options?: { cause?: unknown }): SluiceError =>
    new SluiceError(name, message, details, options);

export const InputError = named('InputError');
export const NotFoundError = named('NotFoundError');
export const ConflictError = named('ConflictError');
export const UnauthorizedError = named('UnauthorizedError');
export const ForbiddenError = named('ForbiddenError');
/** The path exists but not for this method (405). */
export const MethodNotAllowedError = named('MethodNotAllowedError');
export const PayloadTooLargeError = named('PayloadTooLargeError');
/**
 * Not now, because of the caller's own pace (the agent's outbox full up to its bounds until the shipper
 * catches up): retry after `details.retryAfterSeconds`, answered as 429 with Retry-After.
 */
export const TooManyRequestsError = named('TooManyRequestsError');
/** Temporarily unable (the disk full, a dependency down): retry after `details.retryAfterSeconds`. */
export const UnavailableError = named('UnavailableError');
export const BugError = named('BugError');

/** The one mapping of named errors to HTTP statuses, for every HTTP surface (control plane and agent). */
export const HTTP_STATUS: Readonly<Record<ErrorName, number>> = {
  InputError: 400,
  UnauthorizedError: 401,
  ForbiddenError: 403,
  NotFoundError: 404,
  MethodNotAllowedError: 405,
  ConflictError: 409,
  PayloadTooLargeError: 413,
  TooManyRequestsError: 429,
  UnavailableError: 503,
  BugError: 500,
};

export function isSluiceError(err: unknown, name?: ErrorName): err is SluiceError {
  return err instanceof SluiceError && (name === undefined || err.name === name);
}

export function isErrorName(value: unknown): value is ErrorName {
  return typeof value === 'string' && Object.hasOwn(HTTP_STATUS, value);
}

/** Names that tell the client to come back later, with Retry-After. */
const RETRY_LATER: ReadonlySet<ErrorName> = new Set(['TooManyRequestsError', 'UnavailableError']);

/** How long an error asks the client to wait (`details.retryAfterSeconds`), when it names a time. */
export function retryAfterSecondsOf(error: SluiceError): number | undefined {
  const after = (error.details as { retryAfterSeconds?: unknown } | null | undefined)?.retryAfterSeconds;
  return typeof after === 'number' && Number.isFinite(after) ? after : undefined;
}

/** An answer to an HTTP request that failed with a named error: status, headers and the one body shape. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/**
 * The one rendering of a named error as HTTP, for every server (control plane, agent): the status from
 * HTTP_STATUS, Retry-After (whole seconds, at least 1) on the retry-later names, and a Bearer challenge
 * on 401. `defaultRetryAfterSeconds` is what a retry-later error that named no time asks for.
 */
export function errorResponse(error: SluiceError, options: { defaultRetryAfterSeconds?: number } = {}): ErrorResponse {
  const headers: Record<string, string> = {};
  if (RETRY_LATER.has(error.name)) {
    const after = retryAfterSecondsOf(error) ?? options.defaultRetryAfterSeconds;
    if (after !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(after)));
  }
  if (error.name === 'UnauthorizedError') headers['www-authenticate'] = 'Bearer';
  return { status: HTTP_STATUS[error.name], headers, body: error.toBody() };
}

/** Socket-level codes (Node) meaning the other side cannot be reached right now. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * PostgreSQL SQLSTATEs of a server that is away rather than of a bad query: class 08 (connection
 * exception), 57P01-57P03 (shutting down, cannot connect now), 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** node-postgres reports a lost or never-made connection in plain Errors without a code. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * Whether an error means "a dependency (PostgreSQL, a socket peer) is down", the one classification every
 * HTTP surface uses to answer 503 with Retry-After instead of treating the failure as a bug. Structural,
 * so this file stays free of Node and driver imports.
 */
export function isDependencyDown(err: unknown, depth = 0): boolean {
  if (isSluiceError(err)) return err.name === 'UnavailableError';
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const { code, message, errors, cause } = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
  // Node's happy-eyeballs connect (localhost on IPv4 and IPv6) fails with an AggregateError of attempts.
  if (Array.isArray(errors) && errors.length > 0 && errors.every((e) => isDependencyDown(e, depth + 1))) return true;
  return cause !== undefined && isDependencyDown(cause, depth + 1);
}
